-- single-row INSERT into t_b (hand-rolled PL/pgSQL trigger + RLS on current_setting('app.controller'))
\set p random(1, 9999999)
INSERT INTO t_b (phone, body) VALUES ('+1555' || lpad(:p::text, 7, '0'), 'New lead ' || :p::text || ': hi, I saw your ad and would like a quote for a two-room flat, call me back please');
