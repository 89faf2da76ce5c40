-- single-row INSERT into t_a (plain table, controller written by hand)
\set p random(1, 9999999)
INSERT INTO t_a (controller, phone, body) VALUES ('c07', '+1555' || lpad(:p::text, 7, '0'), 'New lead ' || :p::text || ': hi, I saw your ad and would like a quote for a two-room flat, call me back please');
