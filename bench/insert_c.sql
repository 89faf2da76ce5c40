-- single-row INSERT into t_c (phleet-governed table, role bound to controller c07)
\set p random(1, 9999999)
INSERT INTO t_c (phone, body) VALUES ('+1555' || lpad(:p::text, 7, '0'), 'New lead ' || :p::text || ': hi, I saw your ad and would like a quote for a two-room flat, call me back please');
