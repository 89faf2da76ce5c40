
-------------------------------------------------------------------------------
-- check: auditing the installation
-------------------------------------------------------------------------------

-- Every relation phleet isolates: each governed root and every table in its
-- partition tree, with the root's controller column.
CREATE FUNCTION phleet._governed_relations()
RETURNS TABLE (rel regclass, root regclass, col name)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT g.relid, g.relid, g.controller_column
      FROM phleet.governed g
     WHERE EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = g.relid)
    UNION
    SELECT t.relid, g.relid, g.controller_column
      FROM phleet.governed g
     CROSS JOIN LATERAL pg_catalog.pg_partition_tree(g.relid) t
      JOIN pg_catalog.pg_class c ON c.oid = t.relid AND c.relkind IN ('r', 'p')
$$;
COMMENT ON FUNCTION phleet._governed_relations() IS
    'Internal: governed tables and their partitions, with the controller column';

-- Whether the server preloads library lib (shared_preload_libraries is
-- readable by superusers: call from phleet's SECURITY DEFINER functions).
CREATE FUNCTION phleet._preloaded(lib text)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM pg_catalog.unnest(pg_catalog.regexp_split_to_array(
                                   pg_catalog.current_setting('shared_preload_libraries'), '\s*,\s*')) l
                    WHERE pg_catalog.btrim(l, ' "') IN (lib, '$libdir/' || lib))
$$;
COMMENT ON FUNCTION phleet._preloaded(text) IS
    'Internal: whether shared_preload_libraries names the library';

CREATE FUNCTION phleet.check()
RETURNS TABLE (severity text, object text, finding text, hint text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    -- phleet's hooks and its setting exist only when it is preloaded
    IF NOT phleet._preloaded('phleet') THEN
        RETURN QUERY SELECT 'error', 'setting shared_preload_libraries',
            'phleet is not in shared_preload_libraries: its guards are not active in every backend',
            'Add phleet to shared_preload_libraries in postgresql.conf and restart the server.';
    END IF;

    -- roles outside phleet's model
    RETURN QUERY
    SELECT 'warning', pg_catalog.format('role %I', r.rolname),
           CASE WHEN r.rolsuper THEN 'login role is a superuser: row-level security never applies to it'
                ELSE 'login role has BYPASSRLS: row-level security never applies to it' END,
           'Use such roles only for administration; connect applications with roles without SUPERUSER and BYPASSRLS.'
      FROM pg_catalog.pg_roles r
     WHERE r.rolcanlogin AND (r.rolsuper OR r.rolbypassrls)
    UNION ALL
    SELECT 'warning', pg_catalog.format('role %I', r.rolname),
           pg_catalog.format('login role can SET ROLE to %I, which %s', s.rolname,
                             CASE WHEN s.rolsuper THEN 'is a superuser' ELSE 'has BYPASSRLS' END),
           'Revoke the membership from roles that applications log in with.'
      FROM pg_catalog.pg_roles r
      JOIN pg_catalog.pg_roles s ON s.oid <> r.oid AND (s.rolsuper OR s.rolbypassrls)
     WHERE r.rolcanlogin AND NOT r.rolsuper AND NOT r.rolbypassrls
       AND pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER')
    UNION ALL
    SELECT 'warning', pg_catalog.format('role %I', r.rolname),
           'role has CREATEROLE: it can grant itself the role that owns a governed table and read every controller''s rows',
           'Keep CREATEROLE for administrators; create application roles from an administrator session.'
      FROM pg_catalog.pg_roles r
     WHERE r.rolcreaterole AND NOT r.rolsuper;

    -- the registry
    RETURN QUERY
    SELECT 'warning', pg_catalog.format('table %s', g.relid::oid),
           'governed table no longer exists',
           'Delete its row from phleet.governed (the event trigger phleet_sql_drop normally does).'
      FROM phleet.governed g
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = g.relid);

    -- each governed table and partition: column, row-level security, policies, trigger
    RETURN QUERY
    SELECT 'error', pg_catalog.format('table %s', gr.rel),
           CASE WHEN a.attnum IS NULL THEN pg_catalog.format('controller column %I is missing', gr.col)
                WHEN a.atttypid <> 'pg_catalog.text'::pg_catalog.regtype THEN
                     pg_catalog.format('controller column %I is not of type text', gr.col)
                ELSE pg_catalog.format('controller column %I allows NULL', gr.col) END,
           pg_catalog.format('Restore the column, then run SELECT phleet.govern(%L);', gr.root::text)
      FROM phleet._governed_relations() gr
      LEFT JOIN pg_catalog.pg_attribute a
        ON a.attrelid = gr.rel AND a.attname = gr.col AND NOT a.attisdropped AND a.attnum > 0
     WHERE a.attnum IS NULL OR a.atttypid <> 'pg_catalog.text'::pg_catalog.regtype OR NOT a.attnotnull
    UNION ALL
    SELECT 'error', pg_catalog.format('table %s', gr.rel),
           CASE WHEN NOT c.relrowsecurity THEN 'row-level security is disabled: every role sees every controller''s rows'
                ELSE 'row-level security is not forced: the table owner bypasses the policies' END,
           pg_catalog.format('Run SELECT phleet.govern(%L); to restore it.', gr.root::text)
      FROM phleet._governed_relations() gr
      JOIN pg_catalog.pg_class c ON c.oid = gr.rel
     WHERE NOT c.relrowsecurity OR NOT c.relforcerowsecurity
    UNION ALL
    SELECT 'error', pg_catalog.format('policy phleet_isolation on %s', gr.rel),
           CASE WHEN p.oid IS NULL THEN 'policy is missing: rows are not isolated by controller'
                WHEN p.polpermissive THEN 'policy was made PERMISSIVE: other permissive policies widen it'
                WHEN p.polcmd <> '*' THEN 'policy no longer applies to all commands'
                WHEN p.polroles <> '{0}'::oid[] THEN 'policy no longer applies to all roles'
                WHEN pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS DISTINCT FROM x.expr THEN
                     pg_catalog.format('policy USING expression was altered: %s',
                                       coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), 'none'))
                ELSE pg_catalog.format('policy WITH CHECK expression was altered: %s',
                                       coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), 'none')) END,
           pg_catalog.format('Run SELECT phleet.govern(%L); to restore it.', gr.root::text)
      FROM phleet._governed_relations() gr
      CROSS JOIN LATERAL (SELECT pg_catalog.format('(%I = phleet.current_controller())', gr.col) AS expr) x
      LEFT JOIN pg_catalog.pg_policy p ON p.polrelid = gr.rel AND p.polname = 'phleet_isolation'
     WHERE p.oid IS NULL OR p.polpermissive OR p.polcmd <> '*' OR p.polroles <> '{0}'::oid[]
        OR pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS DISTINCT FROM x.expr
        OR pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS DISTINCT FROM x.expr
    UNION ALL
    SELECT 'warning', pg_catalog.format('table %s', gr.rel),
           'table has no permissive policy: no rows are visible or writable in any context',
           pg_catalog.format('Run SELECT phleet.govern(%L); to add phleet_access, or create a permissive policy.', gr.root::text)
      FROM phleet._governed_relations() gr
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_policy p WHERE p.polrelid = gr.rel AND p.polpermissive)
    UNION ALL
    SELECT 'error', pg_catalog.format('trigger phleet_stamp on %s', gr.rel),
           CASE WHEN t.oid IS NULL THEN 'trigger is missing: rows are neither stamped nor checked (COPY FROM is not checked at all)'
                WHEN t.tgenabled = 'D' THEN 'trigger is disabled: rows are neither stamped nor checked (COPY FROM is not checked at all)'
                WHEN t.tgenabled = 'R' THEN 'trigger fires only when session_replication_role is replica'
                ELSE pg_catalog.format('trigger was altered: %s', pg_catalog.pg_get_triggerdef(t.oid)) END,
           pg_catalog.format('Run SELECT phleet.govern(%L); to restore it.', gr.root::text)
      FROM phleet._governed_relations() gr
      LEFT JOIN pg_catalog.pg_trigger t ON t.tgrelid = gr.rel AND t.tgname = 'phleet_stamp'
     WHERE t.oid IS NULL OR t.tgenabled IN ('D', 'R')
        OR pg_catalog.pg_get_triggerdef(t.oid) IS DISTINCT FROM phleet._stamp_trigger_def(gr.rel, gr.root, gr.col)
    UNION ALL
    -- BEFORE ROW triggers fire in name order: one after phleet_stamp sees
    -- (and may rewrite) the stamped controller and the pseudonyms
    SELECT 'warning', pg_catalog.format('trigger %I on %s', t.tgname, gr.rel),
           'BEFORE ROW trigger fires after phleet_stamp: it could rewrite the controller column (COPY FROM would not catch it) or put raw identifiers in identifier columns',
           'Rename the trigger so that its name sorts before "phleet_stamp" (it then sees raw identifiers), or make sure it changes neither the controller column nor identifier columns.'
      FROM phleet._governed_relations() gr
      JOIN pg_catalog.pg_trigger t ON t.tgrelid = gr.rel
     WHERE NOT t.tgisinternal AND t.tgenabled <> 'D'
       AND t.tgname::text COLLATE "C" > 'phleet_stamp'
       AND (t.tgtype & 1) <> 0                 -- ROW
       AND (t.tgtype & 2) <> 0                 -- BEFORE
       AND (t.tgtype & (4 | 16)) <> 0          -- INSERT or UPDATE
    UNION ALL
    -- and one before it sees the raw identifiers the application wrote
    SELECT 'info', pg_catalog.format('trigger %I on %s', t.tgname, gr.rel),
           pg_catalog.format('BEFORE ROW trigger fires before phleet_stamp: it sees raw values of identifier columns (%s)', k.cols),
           'Make sure it keeps them nowhere else (another table, a log, NOTIFY); what it writes to those columns is still pseudonymized.'
      FROM phleet._governed_relations() gr
      JOIN pg_catalog.pg_trigger t ON t.tgrelid = gr.rel
      JOIN LATERAL (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c.column_name), ', ' ORDER BY c.column_name) AS cols
                      FROM phleet.classifications c
                     WHERE c.relid = gr.root AND c.identifier IS NOT NULL) k ON k.cols IS NOT NULL
     WHERE NOT t.tgisinternal AND t.tgenabled <> 'D'
       AND t.tgname::text COLLATE "C" < 'phleet_stamp'
       AND (t.tgtype & 1) <> 0                 -- ROW
       AND (t.tgtype & 2) <> 0                 -- BEFORE
       AND (t.tgtype & (4 | 16)) <> 0          -- INSERT or UPDATE
    UNION ALL
    SELECT 'warning', pg_catalog.format('table %s', gr.rel),
           pg_catalog.format('owner %I can log in: as owner it can ALTER TABLE ... NO FORCE ROW LEVEL SECURITY and read every controller''s rows',
                             o.rolname),
           'Give governed tables a NOLOGIN owner role (ALTER TABLE ... OWNER TO ...).'
      FROM phleet._governed_relations() gr
      JOIN pg_catalog.pg_class c ON c.oid = gr.rel
      JOIN pg_catalog.pg_roles o ON o.oid = c.relowner
     WHERE o.rolcanlogin;

    -- foreign keys into a governed table by a key without its controller
    -- column: foreign-key checks ignore row-level security, so a controller
    -- may reference another's rows (probing them, and keeping them from
    -- being deleted, by the purge too)
    RETURN QUERY
    SELECT 'warning', pg_catalog.format('foreign key %I on %s', k.conname, k.conrelid::regclass),
           pg_catalog.format('references %s by a key without its controller column %I: a controller can reference another controller''s rows, which then cannot be deleted (the purge leaves them)',
                             k.confrelid::regclass, gr.col),
           pg_catalog.format('Reference a key that includes the controller column: UNIQUE (%I, ...) on %s and FOREIGN KEY (<controller column>, ...) REFERENCES %s (%I, ...).',
                             gr.col, k.confrelid::regclass, k.confrelid::regclass, gr.col)
      FROM pg_catalog.pg_constraint k
      JOIN phleet._governed_relations() gr ON gr.rel = k.confrelid
      JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attname = gr.col
     WHERE k.contype = 'f' AND k.conparentid = 0
       AND NOT a.attnum = ANY (k.confkey);

    -- phleet's policies left on a table that is no longer governed (a
    -- detached partition, a copy): its writes are not stamped
    RETURN QUERY
    SELECT 'warning', pg_catalog.format('table %s', p.polrelid::regclass),
           'table carries phleet''s policy but is not governed: writes are not stamped or checked by phleet',
           pg_catalog.format('Govern it with SELECT phleet.govern(%L); or drop its policies phleet_isolation and phleet_access.',
                             p.polrelid::regclass::text)
      FROM pg_catalog.pg_policy p
     WHERE p.polname = 'phleet_isolation'
       AND p.polrelid NOT IN (SELECT gr.rel FROM phleet._governed_relations() gr);

    -- views and materialized views reading governed tables (directly or
    -- through other views)
    RETURN QUERY
    WITH RECURSIVE reads(viewid) AS (
        SELECT DISTINCT r.ev_class
          FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_rewrite r ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                                      AND d.objid = r.oid
         WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.refobjid IN (SELECT gr.rel FROM phleet._governed_relations() gr)
           AND r.ev_class <> d.refobjid
        UNION
        SELECT r.ev_class
          FROM reads
          JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                     AND d.refobjid = reads.viewid
                                     AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
          JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid AND r.ev_class <> d.refobjid
    )
    SELECT 'warning', pg_catalog.format('materialized view %s', c.oid::regclass),
           'materialized view stores rows of a governed table: row-level security does not filter it',
           'Drop it, or keep it out of reach of application roles.'
      FROM reads JOIN pg_catalog.pg_class c ON c.oid = reads.viewid
     WHERE c.relkind = 'm'
    UNION ALL
    SELECT 'warning', pg_catalog.format('view %s', c.oid::regclass),
           pg_catalog.format('view reads a governed table as its owner %I, who bypasses row-level security (phleet refuses such reads at run time)',
                             o.rolname),
           pg_catalog.format('ALTER VIEW %s SET (security_invoker = true);', c.oid::regclass)
      FROM reads
      JOIN pg_catalog.pg_class c ON c.oid = reads.viewid
      JOIN pg_catalog.pg_roles o ON o.oid = c.relowner
     WHERE c.relkind = 'v' AND (o.rolsuper OR o.rolbypassrls)
       AND NOT coalesce((SELECT pg_catalog.bool_or(pg_catalog.split_part(o, '=', 2)::boolean)
                           FROM pg_catalog.unnest(c.reloptions) o
                          WHERE pg_catalog.split_part(o, '=', 1) = 'security_invoker'), false);

    -- revealable columns that no index serves: the purge's pruning of a
    -- controller's vault then holds that controller's vault lock (writers of
    -- its revealable columns wait) while it reads all the controller's rows
    RETURN QUERY
    SELECT 'warning', pg_catalog.format('column %I of table %s', c.column_name, c.relid),
           'revealable column has no index for equality lookups: pruning the vault locks out the controller''s writers of revealable columns while it reads all its rows',
           pg_catalog.format('CREATE INDEX ON %s (%I, %I);', c.relid, g.controller_column, c.column_name)
      FROM phleet.classifications c
      JOIN phleet.governed g ON g.relid = c.relid
     WHERE c.reveal AND NOT phleet._purge_vault_indexed(c.relid, c.column_name, g.controller_column);

    -- tables that look tenant-scoped but are not governed
    RETURN QUERY
    SELECT 'warning', pg_catalog.format('table %s', c.oid::regclass),
           pg_catalog.format('table has a column %I but is not governed', a.attname),
           pg_catalog.format('Run SELECT phleet.govern(%L, %L); if its rows belong to controllers.',
                             c.oid::regclass::text, a.attname)
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND a.attname IN ('controller', 'controller_id', 'tenant', 'tenant_id')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'phleet')
       AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
       AND c.oid NOT IN (SELECT gr.rel FROM phleet._governed_relations() gr)
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                          AND d.objid = c.oid AND d.deptype = 'e');

    -- who may SET phleet's parameters
    RETURN QUERY
    SELECT 'error', pg_catalog.format('parameter %s', pa.parname),
           pg_catalog.format('SET on %s is granted to %s', pa.parname,
                             CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                                  ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(x.grantee)) END),
           pg_catalog.format('REVOKE SET ON PARAMETER %s FROM %s;', pa.parname,
                             CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                                  ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(x.grantee)) END)
      FROM pg_catalog.pg_parameter_acl pa
      CROSS JOIN LATERAL pg_catalog.aclexplode(pa.paracl) x
     WHERE pa.parname LIKE 'phleet.%' AND x.privilege_type = 'SET';

    -- reveal()'s audit writers may take every background worker
    IF pg_catalog.current_setting('phleet.max_audit_writers', true)::integer
       >= pg_catalog.current_setting('max_worker_processes')::integer THEN
        RETURN QUERY SELECT 'warning', 'setting phleet.max_audit_writers',
            pg_catalog.format('phleet.max_audit_writers (%s) is not below max_worker_processes (%s): a flood of reveal() calls can take every background worker from parallel query and other extensions',
                              pg_catalog.current_setting('phleet.max_audit_writers'),
                              pg_catalog.current_setting('max_worker_processes')),
            'ALTER SYSTEM RESET phleet.max_audit_writers; SELECT pg_reload_conf();';
    END IF;

    -- planner estimates
    IF pg_catalog.current_setting('phleet.hide_statistics', true) = 'off' THEN
        RETURN QUERY SELECT 'warning', 'setting phleet.hide_statistics',
            'phleet.hide_statistics is off: EXPLAIN estimates let application roles confirm or read back other controllers'' values',
            'ALTER SYSTEM RESET phleet.hide_statistics; SELECT pg_reload_conf();';
    END IF;

    RETURN QUERY
    SELECT 'warning', pg_catalog.format('statistics %I.%I', n.nspname, x.stxname),
           pg_catalog.format('extended statistics on governed table %s keep sampled values the planner uses whatever phleet.hide_statistics says: EXPLAIN estimates can confirm other controllers'' values',
                             x.stxrelid::pg_catalog.regclass),
           pg_catalog.format('DROP STATISTICS %I.%I;', n.nspname, x.stxname)
      FROM pg_catalog.pg_statistic_ext x
      JOIN pg_catalog.pg_namespace n ON n.oid = x.stxnamespace
     WHERE x.stxrelid IN (SELECT gr.rel FROM phleet._governed_relations() gr);

    -- pool roles that can leave temporary objects for the next client
    RETURN QUERY
    SELECT 'warning', pg_catalog.format('role %I', r.rolname),
           'pool role (member of phleet_gateway) may create temporary objects: behind a transaction pooler, one named like a governed table captures the next client''s rows',
           pg_catalog.format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC; then GRANT it to the roles that need it, not to %I.',
                             pg_catalog.current_database(), r.rolname)
      FROM pg_catalog.pg_roles r
     WHERE r.rolcanlogin AND NOT r.rolsuper
       AND pg_catalog.pg_has_role(r.oid, 'phleet_gateway', 'MEMBER')
       AND pg_catalog.has_database_privilege(r.oid, pg_catalog.current_database(), 'TEMPORARY');

    -- tokens and bindings
    IF NOT EXISTS (SELECT FROM phleet.token_secret) THEN
        RETURN QUERY SELECT 'error', 'table phleet.token_secret',
            'there is no token secret: phleet.mint_token() and phleet.enter_token() fail',
            'Run SELECT phleet.set_token_secret(); and give the result to the token authority.';
    ELSIF NOT EXISTS (SELECT FROM phleet.token_secret s, pg_catalog.pg_database d
                       WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()
                         AND s.datid OPERATOR(pg_catalog.=) d.oid) THEN
        RETURN QUERY SELECT 'error', 'table phleet.token_secret',
            'the token secret was made for another database (this one is a copy): phleet.mint_token() and phleet.enter_token() fail',
            'Run SELECT phleet.set_token_secret(); and give the result to the token authority.';
    END IF;
    RETURN QUERY
    SELECT 'warning', pg_catalog.format('binding %s', b.role::oid),
           pg_catalog.format('role %s bound to controller %L no longer exists', b.role::oid, b.controller),
           pg_catalog.format('Run SELECT phleet.unbind_role(%s);', b.role::oid)
      FROM phleet.role_bindings b
     WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.oid = b.role)
    UNION ALL
    SELECT 'warning', pg_catalog.format('role %I', r.rolname),
           pg_catalog.format('role bound to controller %L bypasses row-level security', b.controller),
           'Remove SUPERUSER and BYPASSRLS from bound roles.'
      FROM phleet.role_bindings b
      JOIN pg_catalog.pg_roles r ON r.oid = b.role
     WHERE r.rolsuper OR r.rolbypassrls;

    -- phleet's event triggers isolate partitions and keep the registry
    RETURN QUERY
    SELECT CASE WHEN e.evtname = 'phleet_ddl_end' THEN 'error' ELSE 'warning' END,
           pg_catalog.format('event trigger %I', e.evtname),
           CASE e.evtname
                WHEN 'phleet_ddl_end'
                THEN 'event trigger is disabled: partitions created or attached later are not isolated'
                WHEN 'phleet_sql_drop'
                THEN 'event trigger is disabled: dropped governed tables stay in phleet.governed'
                WHEN 'phleet_retention_ddl_end'
                THEN 'event trigger is disabled: renaming or dropping the time column of a retention policy stops the table''s purge'
                ELSE 'event trigger is disabled: renaming a classified column or retyping an identifier column is not refused' END,
           pg_catalog.format('ALTER EVENT TRIGGER %I ENABLE;', e.evtname)
      FROM pg_catalog.pg_event_trigger e
     WHERE e.evtname IN ('phleet_ddl_end', 'phleet_sql_drop', 'phleet_retention_ddl_end', 'phleet_classify_ddl_end')
       AND e.evtenabled = 'D';

    -- retention policies whose time column is gone or is no time any more
    RETURN QUERY
    SELECT DISTINCT 'error', pg_catalog.format('table %s', r.relid),
           pg_catalog.format('retention policies name time column %I, which the table no longer has as a timestamptz, timestamp or date column: the purge skips the table',
                             r.time_column),
           'Set the policies again on the right column: phleet.unretain(), then phleet.retain().'
      FROM phleet.retention_rules r
      LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = r.relid AND a.attname = r.time_column
                                          AND a.attnum > 0 AND NOT a.attisdropped
     WHERE a.atttypid IS NULL
        OR a.atttypid NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype);

    -- code of a non-superuser that reading or planning a governed table runs:
    -- phleet's maintenance (purge, govern, pseudonymize_existing) refuses it
    RETURN QUERY
    SELECT 'error', pg_catalog.format('table %s', g.relid::regclass), u.found,
           'Have a superuser own that code (ALTER FUNCTION, OPERATOR or DOMAIN ... OWNER TO), or drop the index, constraint or statistics that use it.'
      FROM phleet.governed g
     CROSS JOIN LATERAL (SELECT phleet._untrusted_code(g.relid) AS found) u
     WHERE u.found IS NOT NULL;

    -- rules on DELETE: the purge deletes as the table's owner, and refuses a
    -- table whose rule would run that way (phleet._purge_as_owner())
    RETURN QUERY
    SELECT DISTINCT 'error', pg_catalog.format('rule %I on %s', w.rulename, gr.rel),
           'rule on DELETE of a table with retention policies: phleet.purge() cannot delete its rows',
           'Replace the rule by a trigger.'
      FROM (SELECT DISTINCT r.relid FROM phleet.retention_rules r) t
      JOIN phleet._governed_relations() gr ON gr.root = t.relid
      JOIN pg_catalog.pg_rewrite w ON w.ev_class = gr.rel AND w.ev_type = '4';

    -- partitions an interrupted purge detached and did not drop (their rows are past retention)
    RETURN QUERY
    SELECT 'warning', pg_catalog.format('table %s', d.partition_name),
           pg_catalog.format('partition of %s detached by purge run %s at %s and not dropped yet: its rows are past retention',
                             d.table_name, d.run_id, d.detached_at),
           'CALL phleet.purge(); drops it (every purge drops such leftovers first).'
      FROM phleet.purge_detached d;
END
$$;
COMMENT ON FUNCTION phleet.check() IS
    'Audit the installation: roles that bypass policies, governed tables whose policies or trigger were altered, ungoverned tenant-like tables, missing token secret';

REVOKE ALL ON FUNCTION phleet._governed_relations(), phleet._preloaded(text), phleet.check() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION phleet.check() TO phleet_admin;
