
-------------------------------------------------------------------------------
-- govern: tagging and isolating tables
-------------------------------------------------------------------------------

CREATE FUNCTION phleet.stamp_controller() RETURNS trigger
    AS 'MODULE_PATHNAME', 'phleet_stamp_controller'
    LANGUAGE C;
COMMENT ON FUNCTION phleet.stamp_controller() IS
    'Trigger on governed tables: stamps the current controller on new rows, refuses rows of other controllers and controller changes';

CREATE TABLE phleet.governed (
    relid             regclass PRIMARY KEY,
    controller_column name NOT NULL,
    governed_at       timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE phleet.governed IS 'Registry of governed tables (root tables; partitions follow their root)';
REVOKE ALL ON phleet.governed FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('phleet.governed', '');

-- Code of a role that is not a superuser that PostgreSQL may run when a
-- query merely reads or plans a table: functions and operators in the
-- expressions and predicates of its indexes (evaluated when the relcache
-- loads them), its CHECK constraints and extended statistics (folded by the
-- planner) and its partition key, for the table and every partition, and
-- domains those expressions use (their CHECK constraints are folded too).
-- Any such domain counts, whatever its constraints now: ALTER DOMAIN ... ADD
-- CONSTRAINT locks no table whose expressions only cast to it.
-- phleet's maintenance reads governed tables as the extension owner, a
-- superuser: such code would run as that superuser.  Returns what the first
-- one found is, NULL when there is none.  Reads only catalogs.
CREATE FUNCTION phleet._untrusted_code(tbl regclass)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    -- (PL/pgSQL rather than SQL, and a generic plan: planned once per
    -- session, 0.5 ms a look rather than 2-3 ms; the purge looks once per
    -- batch)
    RETURN (
WITH RECURSIVE rels AS (
    SELECT tbl::oid AS rel
    UNION
    SELECT t.relid FROM pg_partition_tree(tbl) t
), objs AS (
    SELECT 'pg_class'::regclass AS classid, r.rel AS objid, format('table %s', r.rel::regclass) AS what
      FROM rels r
    UNION ALL
    SELECT 'pg_class'::regclass, i.indexrelid, format('index %s', i.indexrelid::regclass)
      FROM pg_index i JOIN rels r ON i.indrelid = r.rel
    UNION ALL
    SELECT 'pg_constraint'::regclass, c.oid, format('constraint %I of %s', c.conname, c.conrelid::regclass)
      FROM pg_constraint c JOIN rels r ON c.conrelid = r.rel
     WHERE c.contype = 'c'
    UNION ALL
    SELECT 'pg_statistic_ext'::regclass, x.oid, format('statistics %I', x.stxname)
      FROM pg_statistic_ext x JOIN rels r ON x.stxrelid = r.rel
), deps AS (
    -- (a table's columns depend on their types: reading a column runs no
    -- domain check, so only the table's own expressions count)
    SELECT o.what, d.refclassid, d.refobjid
      FROM objs o
      JOIN pg_depend d ON d.classid = o.classid AND d.objid = o.objid
     WHERE NOT (o.classid = 'pg_class'::regclass AND d.objsubid <> 0
                AND o.objid IN (SELECT r.rel FROM rels r))
), types(what, typ) AS (
    -- types the expressions use, and the types those are made of: a cast
    -- to a domain loads (and folds) the domain's CHECK constraints
    SELECT d.what, d.refobjid FROM deps d WHERE d.refclassid = 'pg_type'::regclass
    UNION
    SELECT ty.what, x.t
      FROM types ty
      JOIN pg_type t ON t.oid = ty.typ
     CROSS JOIN LATERAL (SELECT t.typbasetype
                         UNION SELECT t.typelem
                         UNION SELECT r.rngsubtype FROM pg_range r WHERE r.rngtypid = t.oid
                         UNION SELECT a.atttypid FROM pg_attribute a
                                WHERE a.attrelid = t.typrelid AND a.attnum > 0) x(t)
     WHERE x.t <> 0
)
SELECT f.found FROM (
    SELECT format('%s uses %s, owned by role %I, which is not a superuser', d.what,
                  CASE WHEN d.refclassid = 'pg_proc'::regclass THEN format('function %s', d.refobjid::regprocedure)
                       ELSE format('operator %s', d.refobjid::regoperator) END,
                  w.rolname) AS found
      FROM deps d
      LEFT JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND p.oid = d.refobjid
      LEFT JOIN pg_operator op ON d.refclassid = 'pg_operator'::regclass AND op.oid = d.refobjid
      LEFT JOIN pg_proc opf ON opf.oid = op.oprcode
      JOIN pg_roles w ON w.oid IN (p.proowner, op.oprowner, opf.proowner)
     WHERE d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass) AND NOT w.rolsuper
    UNION ALL
    SELECT format('%s uses domain %s, owned by role %I, which is not a superuser', ty.what, t.oid::regtype, w.rolname)
      FROM types ty
      JOIN pg_type t ON t.oid = ty.typ AND t.typtype = 'd'
      JOIN pg_roles w ON w.oid = t.typowner
     WHERE NOT w.rolsuper) f
 ORDER BY 1
 LIMIT 1);
END
$$;
COMMENT ON FUNCTION phleet._untrusted_code(regclass) IS
    'Internal: the first function or operator of a role that is not a superuser that reading or planning the table (or a partition) may run, NULL if none';

-- Refuse to touch such a table from phleet's maintenance (as a superuser).
-- The table and its partitions are locked first, for the rest of the
-- caller's transaction, in SHARE UPDATE EXCLUSIVE mode: no index, CHECK
-- constraint or statistics can come between this look and the caller's
-- queries (CREATE INDEX [CONCURRENTLY], CREATE STATISTICS and ALTER TABLE
-- wait for it).
CREATE FUNCTION phleet._refuse_untrusted_code(tbl regclass, doing text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found text;
BEGIN
    EXECUTE format('LOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE', tbl);
    found := phleet._untrusted_code(tbl);
    IF found IS NOT NULL THEN
        RAISE EXCEPTION 'cannot % table % as phleet''s maintenance: %', doing, tbl, found
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'phleet reads governed tables as the extension owner, a superuser, and PostgreSQL runs such code when it reads or plans the table.',
                  HINT = 'Have a superuser own that code (ALTER FUNCTION, OPERATOR or DOMAIN ... OWNER TO), or drop the index, constraint or statistics that use it.';
    END IF;
END
$$;
COMMENT ON FUNCTION phleet._refuse_untrusted_code(regclass, text) IS
    'Internal: raise when phleet._untrusted_code() finds code of a non-superuser on the table';
REVOKE ALL ON FUNCTION phleet._untrusted_code(regclass), phleet._refuse_untrusted_code(regclass, text) FROM PUBLIC;

-- Isolation of one relation (a root table or one of its partitions): forced
-- row-level security, phleet's RESTRICTIVE policy, and a permissive policy
-- when the relation has none of its own (without one, nothing is visible).
-- With refresh false (from the event trigger) relations already isolated are
-- left alone, which also keeps the event trigger from recursing; one not yet
-- isolated (a partition just created or attached) must hold only rows of
-- registered controllers, and, unless the role that attaches it is
-- phleet_admin or superuser, only rows of the current controller: ATTACH
-- PARTITION must not slip rows into another controller's data.  Raw values
-- in identifier columns of such a table get the notice classify() gives.
CREATE FUNCTION phleet._isolate_relation(rel regclass, col name, refresh boolean)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    expr text := format('%I OPERATOR(pg_catalog.=) phleet.current_controller()', col);
    -- the role running the DDL (this function runs as its owner)
    caller name := CASE WHEN current_setting('role') = 'none' THEN session_user
                        ELSE current_setting('role') END;
    admin boolean;
    ctl text := phleet.current_controller();
    stray text;
    n bigint;
    idcol name;
    raw boolean;
BEGIN
    IF NOT refresh AND NOT EXISTS (SELECT FROM pg_policy p
                                   WHERE p.polrelid = rel AND p.polname = 'phleet_isolation') THEN
        PERFORM phleet._refuse_untrusted_code(rel, 'isolate');
        admin := EXISTS (SELECT FROM pg_roles r WHERE r.rolname = caller AND r.rolsuper)
                 OR pg_has_role(caller, 'phleet_admin', 'MEMBER');
        EXECUTE format('SELECT %1$I FROM %2$s WHERE %1$I IS NULL OR %1$I NOT IN (SELECT handle FROM phleet.controllers)'
                       ' OR NOT ($1 OR %1$I IS NOT DISTINCT FROM $2) LIMIT 1', col, rel)
           INTO stray USING admin, ctl;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n > 0 AND admin THEN
            RAISE EXCEPTION 'partition "%" of a governed table has rows of controller %', rel,
                            coalesce(quote_literal(stray), 'NULL')
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = 'Every row of a governed table belongs to a registered controller.',
                      HINT = 'Create the missing controllers with phleet.controller_create(), or fix the rows.';
        ELSIF n > 0 THEN
            RAISE EXCEPTION 'partition "%" of a governed table has rows of controller %', rel,
                            coalesce(quote_literal(stray), 'NULL')
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = CASE WHEN ctl IS NULL
                                    THEN 'Outside a controller context only an empty table can become a partition of a governed table.'
                                    ELSE format('In the context of controller %L only rows of that controller can join a governed table.', ctl) END,
                      HINT = 'Fix the rows, or let a member of phleet_admin attach the table.';
        END IF;
        -- identifier columns: a table that joins with raw values keeps them
        -- until they are converted, as after classify() of a filled column
        FOR idcol IN SELECT k.column_name FROM phleet.classifications k
                      WHERE k.relid = coalesce(pg_partition_root(rel), rel) AND k.identifier IS NOT NULL
                      ORDER BY k.column_name
        LOOP
            EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE %I IS NOT NULL AND NOT phleet.is_pseudonym(%I))',
                           rel, idcol, idcol) INTO raw;
            IF raw THEN
                RAISE NOTICE 'column "%" of partition "%" holds values that are not pseudonyms yet', idcol, rel
                    USING HINT = format('Convert them with: CALL phleet.pseudonymize_existing(%L, %L);',
                                        coalesce(pg_partition_root(rel), rel)::text, idcol);
            END IF;
        END LOOP;
    END IF;
    IF refresh OR NOT EXISTS (SELECT FROM pg_policy p
                              WHERE p.polrelid = rel AND p.polname = 'phleet_isolation') THEN
        IF EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = rel AND p.polname = 'phleet_isolation') THEN
            EXECUTE format('DROP POLICY phleet_isolation ON %s', rel);
        END IF;
        EXECUTE format('CREATE POLICY phleet_isolation ON %s AS RESTRICTIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
                       rel, expr, expr);
        EXECUTE format('COMMENT ON POLICY phleet_isolation ON %s IS %L', rel,
                       'phleet: rows are visible and writable only in their controller''s context');
    END IF;
    IF NOT EXISTS (SELECT FROM pg_policy p
                   WHERE p.polrelid = rel AND p.polpermissive) THEN
        EXECUTE format('CREATE POLICY phleet_access ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true)', rel);
        EXECUTE format('COMMENT ON POLICY phleet_access ON %s IS %L', rel,
                       'phleet: lets phleet_isolation decide; narrow further with RESTRICTIVE policies');
    END IF;
    -- last: this ALTER TABLE comes back through the event trigger, which
    -- then finds the policies in place and leaves the relation alone
    IF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = rel
                   AND c.relrowsecurity AND c.relforcerowsecurity) THEN
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', rel);
    END IF;
END
$$;
COMMENT ON FUNCTION phleet._isolate_relation(regclass, name, boolean) IS
    'Internal: forced RLS and phleet''s policies on one relation';

-- Isolate a governed root and every partition below it (idempotent).
CREATE FUNCTION phleet._isolate_tree(root regclass, col name, refresh boolean)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT c.oid FROM pg_class c
                 WHERE c.oid = root
                    OR (c.oid IN (SELECT t.relid FROM pg_partition_tree(root) t)
                        AND c.relkind IN ('r', 'p'))
    LOOP
        PERFORM phleet._isolate_relation(part, col, refresh);
    END LOOP;
END
$$;
COMMENT ON FUNCTION phleet._isolate_tree(regclass, name, boolean) IS
    'Internal: isolate a governed table and all its partitions';

-- The CREATE TRIGGER of phleet_stamp on rel, a governed root or one of its
-- partitions: the controller column col, then column, kind and reveal flag
-- of each identifier column of the root (classify.c pseudonymizes them in
-- the same trigger).  Also what phleet.check() expects pg_get_triggerdef()
-- to show.
CREATE FUNCTION phleet._stamp_trigger_def(rel regclass, root regclass, col name)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    args text;
BEGIN
    SELECT string_agg(format(', %L, %L, %L', c.column_name, c.identifier,
                             CASE WHEN c.reveal THEN 't' ELSE 'f' END), '' ORDER BY c.column_name)
      INTO args
      FROM phleet.classifications c
     WHERE c.relid = root AND c.identifier IS NOT NULL;
    RETURN format('CREATE TRIGGER phleet_stamp BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION phleet.stamp_controller(%L%s)',
                  rel, col, coalesce(args, ''));
END
$$;
COMMENT ON FUNCTION phleet._stamp_trigger_def(regclass, regclass, name) IS
    'Internal: the CREATE TRIGGER statement of a governed table''s phleet_stamp (controller column, then its identifier columns)';
REVOKE ALL ON FUNCTION phleet._stamp_trigger_def(regclass, regclass, name) FROM PUBLIC;

CREATE FUNCTION phleet.govern(tbl regclass, controller_column name DEFAULT 'controller')
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET phleet.internal = on
AS $$
DECLARE
    col name := controller_column;
    cls record;
    att record;
    stray text;
    nstray bigint;
    registered name;
BEGIN
    IF tbl IS NULL OR col IS NULL THEN
        RAISE EXCEPTION 'table and controller column must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    SELECT c.relkind, c.relispartition, c.relpersistence, n.nspname
      INTO cls
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = tbl;
    IF cls.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '"%" is not a table', tbl
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Only ordinary and partitioned tables can be governed.';
    END IF;
    IF cls.nspname IN ('pg_catalog', 'information_schema', 'phleet') OR cls.nspname LIKE 'pg_toast%' THEN
        RAISE EXCEPTION 'cannot govern table "%" in schema "%"', tbl, cls.nspname
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF cls.relpersistence = 't' THEN
        RAISE EXCEPTION 'cannot govern temporary table "%"', tbl
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF cls.relispartition THEN
        RAISE EXCEPTION 'cannot govern partition "%" on its own', tbl
            USING ERRCODE = 'wrong_object_type',
                  HINT = format('Govern its root table %s; its partitions follow.', pg_partition_root(tbl));
    END IF;
    IF EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = tbl) THEN
        RAISE EXCEPTION 'cannot govern table "%", which inherits from table %', tbl,
                (SELECT i.inhparent::regclass FROM pg_inherits i WHERE i.inhrelid = tbl ORDER BY i.inhseqno LIMIT 1)
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'A query of the parent would apply the parent''s row-level security, not phleet''s, to its rows.',
                  HINT = 'Remove the inheritance (ALTER TABLE ... NO INHERIT) first.';
    END IF;
    IF EXISTS (SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = tbl AND NOT c.relispartition) THEN
        RAISE EXCEPTION 'cannot govern table "%", which has inheritance children', tbl
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'Rows of an inheritance child would be neither isolated nor stamped by phleet.',
                  HINT = 'Use declarative partitioning, or remove the inheritance (ALTER TABLE ... NO INHERIT) first.';
    END IF;

    PERFORM phleet._refuse_untrusted_code(tbl, 'govern');

    SELECT g.controller_column INTO registered FROM phleet.governed g WHERE g.relid = tbl;
    IF registered IS NOT NULL AND registered <> col THEN
        RAISE EXCEPTION 'table "%" is already governed with controller column "%"', tbl, registered
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run phleet.ungovern() first to change the controller column.';
    END IF;

    -- the controller column: add it, or adopt an existing text column
    SELECT a.attnum, a.atttypid, a.attnotnull INTO att
      FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = col AND NOT a.attisdropped;
    IF NOT FOUND THEN
        EXECUTE format('SELECT true FROM %s LIMIT 1', tbl) INTO stray;
        IF stray IS NOT NULL THEN
            RAISE EXCEPTION 'table "%" has rows but no column "%"', tbl, col
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Add a text column holding each row''s controller handle, fill it, then govern the table.';
        END IF;
        EXECUTE format('ALTER TABLE %s ADD COLUMN %I text NOT NULL', tbl, col);
        SELECT a.attnum, a.atttypid, a.attnotnull INTO att
          FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = col;
    ELSE
        IF att.attnum < 0 THEN
            RAISE EXCEPTION 'cannot use system column "%" as controller column', col
                USING ERRCODE = 'invalid_column_reference';
        END IF;
        IF att.atttypid <> 'text'::regtype THEN
            RAISE EXCEPTION 'column "%" of table "%" is of type %, not text', col, tbl, att.atttypid::regtype
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'A controller column holds controller handles as text.';
        END IF;
        -- (EXECUTE does not set FOUND: count the rows it returned)
        EXECUTE format('SELECT %1$I FROM %2$s WHERE %1$I IS NULL OR %1$I NOT IN (SELECT handle FROM phleet.controllers) LIMIT 1',
                       col, tbl) INTO stray;
        GET DIAGNOSTICS nstray = ROW_COUNT;
        IF nstray > 0 AND stray IS NULL THEN
            RAISE EXCEPTION 'table "%" has rows whose column "%" is NULL', tbl, col
                USING ERRCODE = 'not_null_violation',
                      HINT = 'Fill in each row''s controller handle, then govern again.';
        ELSIF nstray > 0 THEN
            RAISE EXCEPTION 'table "%" has rows whose controller "%" is not a controller', tbl, stray
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'Create the missing controllers with phleet.controller_create(), or fix the rows, then govern again.';
        END IF;
        IF NOT att.attnotnull THEN
            EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL', tbl, col);
        END IF;
    END IF;

    -- an index that leads with the controller column
    IF NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = tbl AND i.indkey[0] = att.attnum
                   AND i.indpred IS NULL AND i.indisvalid) THEN
        EXECUTE format('CREATE INDEX ON %s (%I)', tbl, col);
    END IF;

    -- the stamp trigger (cloned by PostgreSQL to every partition)
    IF EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = tbl AND t.tgname = 'phleet_stamp') THEN
        EXECUTE format('DROP TRIGGER phleet_stamp ON %s', tbl);
    END IF;
    EXECUTE phleet._stamp_trigger_def(tbl, tbl, col);

    PERFORM phleet._isolate_tree(tbl, col, true);

    INSERT INTO phleet.governed (relid, controller_column) VALUES (tbl, col)
        ON CONFLICT (relid) DO NOTHING;
END
$$;
COMMENT ON FUNCTION phleet.govern(regclass, name) IS
    'Make a table governed: controller column, stamp trigger, leading index, forced row-level security (idempotent)';

CREATE FUNCTION phleet.ungovern(tbl regclass)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part regclass;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM phleet.governed g WHERE g.relid = tbl) THEN
        RAISE EXCEPTION 'table "%" is not governed', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF EXISTS (SELECT FROM phleet.classifications c WHERE c.relid = tbl) THEN
        RAISE EXCEPTION 'table "%" has classified columns', tbl
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Ungoverning it would stop pseudonymizing their identifiers.',
                  HINT = 'Unclassify them first with phleet.unclassify().';
    END IF;
    -- forget the table first: the ALTER TABLEs below fire phleet_ddl_end,
    -- which would otherwise isolate the partitions again
    DELETE FROM phleet.governed g WHERE g.relid = tbl;
    IF EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = tbl AND t.tgname = 'phleet_stamp') THEN
        EXECUTE format('DROP TRIGGER phleet_stamp ON %s', tbl);
    END IF;
    FOR part IN SELECT c.oid FROM pg_class c
                 WHERE c.oid = tbl
                    OR (c.oid IN (SELECT t.relid FROM pg_partition_tree(tbl) t)
                        AND c.relkind IN ('r', 'p'))
    LOOP
        IF EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = part AND p.polname = 'phleet_isolation') THEN
            EXECUTE format('DROP POLICY phleet_isolation ON %s', part);
        END IF;
        IF EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = part AND p.polname = 'phleet_access') THEN
            EXECUTE format('DROP POLICY phleet_access ON %s', part);
        END IF;
        -- leave row-level security on where the table has policies of its own
        IF NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = part) THEN
            EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY', part);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION phleet.ungovern(regclass) IS
    'Undo phleet.govern(): drop the trigger and phleet''s policies (the column, its data and its index stay)';

REVOKE ALL ON FUNCTION phleet.govern(regclass, name), phleet.ungovern(regclass),
    phleet._isolate_relation(regclass, name, boolean), phleet._isolate_tree(regclass, name, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION phleet.govern(regclass, name), phleet.ungovern(regclass) TO phleet_admin;

CREATE VIEW phleet.governed_tables AS
SELECT g.relid AS table_name,
       g.controller_column,
       g.governed_at,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       (SELECT count(*) FROM pg_catalog.pg_partition_tree(g.relid) t
         WHERE t.relid <> g.relid AND t.isleaf)::integer AS partitions
  FROM phleet.governed g
  JOIN pg_catalog.pg_class c ON c.oid = g.relid;
COMMENT ON VIEW phleet.governed_tables IS 'Governed tables, their controller column and isolation state';
GRANT SELECT ON phleet.governed_tables TO PUBLIC;

-- Is a collected DDL command an ALTER TABLE that only detaches partitions?
CREATE FUNCTION phleet._ddl_detaches_only(cmd pg_ddl_command)
RETURNS boolean
AS 'MODULE_PATHNAME', 'phleet_ddl_detaches_only'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION phleet._ddl_detaches_only(pg_ddl_command) IS
    'Internal: true for an ALTER TABLE command whose every subcommand is DETACH PARTITION';
REVOKE ALL ON FUNCTION phleet._ddl_detaches_only(pg_ddl_command) FROM PUBLIC;

-- Partitions created or attached after phleet.govern() are isolated as they
-- arrive; dropped governed tables leave the registry.  An ALTER TABLE that
-- only detaches partitions is skipped: the tree it leaves is a part of the
-- tree before it, each of whose members was isolated when it was created or
-- attached, or altered since (every such command comes here).
CREATE FUNCTION phleet._on_ddl_end()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g record;
BEGIN
    -- plain inheritance (INHERITS, ALTER TABLE ... INHERIT) would add a table
    -- that is neither isolated nor stamped; partitions are handled below
    FOR g IN
        SELECT DISTINCT cmd.objid::regclass AS child, i.inhparent::regclass AS parent
          FROM pg_event_trigger_ddl_commands() cmd
          JOIN pg_class c ON c.oid = cmd.objid AND cmd.classid = 'pg_class'::regclass
          JOIN pg_inherits i ON i.inhrelid = cmd.objid
         WHERE NOT c.relispartition
           AND i.inhparent IN (SELECT gr.rel FROM phleet._governed_relations() gr)
    LOOP
        RAISE EXCEPTION 'table % cannot inherit from governed table %', g.child, g.parent
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Rows of an inheritance child are neither isolated nor stamped by phleet.',
                  HINT = 'Use declarative partitioning (PARTITION OF): phleet isolates partitions as they are created or attached.';
    END LOOP;
    -- nor may a governed table become the child (or partition) of a table
    -- that is not governed: a query of that parent applies only the parent's
    -- policies, none, to the governed table's rows
    FOR g IN
        SELECT i.inhrelid::regclass AS child, i.inhparent::regclass AS parent
          FROM pg_event_trigger_ddl_commands() cmd
          JOIN pg_inherits i ON cmd.objid IN (i.inhrelid, i.inhparent)
         WHERE cmd.classid = 'pg_class'::regclass
           AND i.inhrelid IN (SELECT gr.rel FROM phleet._governed_relations() gr)
           AND i.inhparent NOT IN (SELECT gr.rel FROM phleet._governed_relations() gr)
         LIMIT 1
    LOOP
        RAISE EXCEPTION 'governed table % cannot become a child of table %, which is not governed', g.child, g.parent
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'A query of the parent would apply the parent''s row-level security, not phleet''s, to the governed table''s rows.',
                  HINT = 'Govern the parent first, or keep the governed table out of inheritance and partitioning trees it does not root.';
    END LOOP;
    -- a foreign table in a governed partition tree can carry no policy
    FOR g IN
        SELECT t.relid::regclass AS part, gov.relid::regclass AS root
          FROM pg_event_trigger_ddl_commands() cmd
          JOIN phleet.governed gov ON gov.relid = pg_partition_root(cmd.objid)
         CROSS JOIN LATERAL pg_partition_tree(gov.relid) t
          JOIN pg_class c ON c.oid = t.relid AND c.relkind = 'f'
         WHERE cmd.classid = 'pg_class'::regclass
         LIMIT 1
    LOOP
        RAISE EXCEPTION 'foreign table % cannot be a partition of governed table %', g.part, g.root
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Row-level security cannot be enabled on a foreign table: its rows would not be isolated.';
    END LOOP;
    FOR g IN
        SELECT DISTINCT gov.relid, gov.controller_column
          FROM pg_event_trigger_ddl_commands() cmd
          JOIN pg_class c ON c.oid = cmd.objid AND cmd.classid = 'pg_class'::regclass
          JOIN phleet.governed gov ON gov.relid = pg_partition_root(cmd.objid)
         WHERE c.relkind IN ('r', 'p') AND phleet._ddl_detaches_only(cmd.command) IS NOT TRUE
    LOOP
        PERFORM phleet._isolate_tree(g.relid, g.controller_column, false);
    END LOOP;
END
$$;
COMMENT ON FUNCTION phleet._on_ddl_end() IS
    'Internal event trigger: isolates partitions created or attached under a governed table; refuses inheritance from one, a governed table under an ungoverned parent, and foreign partitions';

CREATE FUNCTION phleet._on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM phleet.governed g
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND g.relid::oid = d.objid;
END
$$;
COMMENT ON FUNCTION phleet._on_sql_drop() IS
    'Internal event trigger: forgets governed tables that are dropped';

REVOKE ALL ON FUNCTION phleet._on_ddl_end(), phleet._on_sql_drop() FROM PUBLIC;

CREATE EVENT TRIGGER phleet_ddl_end ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE', 'CREATE SCHEMA', 'CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE')
    EXECUTE FUNCTION phleet._on_ddl_end();
CREATE EVENT TRIGGER phleet_sql_drop ON sql_drop
    WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED')
    EXECUTE FUNCTION phleet._on_sql_drop();
COMMENT ON EVENT TRIGGER phleet_ddl_end IS 'phleet: isolates partitions created or attached under a governed table; refuses inheritance from one, a governed table under an ungoverned parent, and foreign partitions';
COMMENT ON EVENT TRIGGER phleet_sql_drop IS 'phleet: forgets governed tables that are dropped';
