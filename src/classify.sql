
-------------------------------------------------------------------------------
-- classify: data categories of columns, pseudonymized identifier columns
-------------------------------------------------------------------------------

CREATE TYPE phleet.category AS ENUM
    ('personal', 'communication', 'content', 'business', 'usage', 'device', 'activity', 'tracking');
COMMENT ON TYPE phleet.category IS 'Data categories of the data policy, for phleet.classify()';

CREATE TABLE phleet.classifications (
    relid         regclass NOT NULL,
    column_name   name NOT NULL,
    category      phleet.category NOT NULL,
    identifier    text CHECK (identifier IN ('phone', 'email', 'ip', 'device', 'generic')),
    reveal        boolean NOT NULL DEFAULT false CHECK (NOT reveal OR identifier IS NOT NULL),
    classified_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (relid, column_name)
);
COMMENT ON TABLE phleet.classifications IS
    'Classified columns of governed tables (root tables; partitions follow their root)';
REVOKE ALL ON phleet.classifications FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('phleet.classifications', '');

-- Re-create a table's phleet_stamp trigger with the identifier columns it
-- has now (classify.c pseudonymizes them in that trigger).
CREATE FUNCTION phleet._classify_sync(tbl regclass)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ccol name;
BEGIN
    SELECT g.controller_column INTO ccol FROM phleet.governed g WHERE g.relid = tbl;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = tbl AND t.tgname = 'phleet_stamp') THEN
        EXECUTE format('DROP TRIGGER phleet_stamp ON %s', tbl);
    END IF;
    EXECUTE phleet._stamp_trigger_def(tbl, tbl, ccol);
END
$$;
COMMENT ON FUNCTION phleet._classify_sync(regclass) IS
    'Internal: re-create a table''s phleet_stamp trigger with its identifier columns';

CREATE FUNCTION phleet.classify(tbl regclass, col name, category phleet.category,
                                identifier text DEFAULT NULL, reveal boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET phleet.internal = on
AS $$
DECLARE
    ccol name;
    att record;
    prev record;
    raw boolean;
BEGIN
    IF tbl IS NULL OR col IS NULL OR category IS NULL OR reveal IS NULL THEN
        RAISE EXCEPTION 'table, column, category and reveal must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT g.controller_column INTO ccol FROM phleet.governed g WHERE g.relid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table "%" is not governed', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Only governed tables can be classified: run phleet.govern() on the table (or its root table) first.';
    END IF;
    SELECT a.attnum, a.atttypid, a.atttypmod INTO att
      FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table "%" does not exist', col, tbl
            USING ERRCODE = 'undefined_column';
    END IF;
    IF col = ccol THEN
        RAISE EXCEPTION 'cannot classify the controller column "%" of table "%"', col, tbl
            USING ERRCODE = 'invalid_column_reference',
                  DETAIL = 'It holds controller handles, not data about end users.';
    END IF;
    IF identifier IS NOT NULL THEN
        IF identifier NOT IN ('phone', 'email', 'ip', 'device', 'generic') THEN
            RAISE EXCEPTION 'unknown identifier kind "%"', identifier
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'The kinds are phone, email, ip, device and generic.';
        END IF;
        -- rows are routed on the value as written, before the trigger
        -- replaces it: PostgreSQL refuses the row that would then move
        IF EXISTS (SELECT FROM pg_partition_tree(tbl) t
                     JOIN pg_partitioned_table pt ON pt.partrelid = t.relid
                    WHERE EXISTS (SELECT FROM unnest(pt.partattrs::int2[]) k(attnum)
                                    JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = k.attnum
                                   WHERE a.attname = col)
                       OR (pt.partexprs IS NOT NULL
                           AND pg_get_partkeydef(pt.partrelid) ~ ('\m' || regexp_replace(quote_ident(col), '([^[:alnum:]_])', '\\\1', 'g') || '\M'))) THEN
            RAISE EXCEPTION 'cannot classify column "%" of table "%" as an identifier: it is in a partition key', col, tbl
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'Rows are routed to a partition on the value written, before phleet replaces it with a pseudonym.',
                      HINT = 'Partition on another column.';
        END IF;
        IF att.atttypid NOT IN ('text'::regtype, 'varchar'::regtype) THEN
            RAISE EXCEPTION 'column "%" of table "%" is of type %, not text', col, tbl, format_type(att.atttypid, att.atttypmod)
                USING ERRCODE = 'datatype_mismatch',
                      DETAIL = 'Identifier columns hold pseudonyms, which are text.',
                      HINT = format('Change its type first: ALTER TABLE %s ALTER COLUMN %I TYPE text;', tbl, col);
        END IF;
        IF att.atttypid = 'varchar'::regtype AND att.atttypmod <> -1 AND att.atttypmod - 4 < 37 THEN
            RAISE EXCEPTION 'column "%" of table "%" is too short for pseudonyms', col, tbl
                USING ERRCODE = 'datatype_mismatch',
                      DETAIL = format('It is %s; pseudonyms have 37 characters.', format_type(att.atttypid, att.atttypmod)),
                      HINT = format('Change its type first: ALTER TABLE %s ALTER COLUMN %I TYPE text;', tbl, col);
        END IF;
    ELSIF reveal THEN
        RAISE EXCEPTION 'reveal requires an identifier kind'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Only pseudonymized identifiers are kept in the vault and can be revealed.',
                  HINT = 'Pass identifier => ''phone'' (or email, ip, device, generic) as well.';
    END IF;

    SELECT c.identifier, c.reveal INTO prev
      FROM phleet.classifications c WHERE c.relid = tbl AND c.column_name = col;
    IF FOUND AND prev.identifier IS NOT NULL AND prev.identifier IS DISTINCT FROM classify.identifier THEN
        RAISE EXCEPTION 'column "%" of table "%" is already classified with identifier kind "%"', col, tbl, prev.identifier
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Its values are pseudonyms of that kind.',
                  HINT = 'Run phleet.unclassify() first if the column must change kind.';
    END IF;

    INSERT INTO phleet.classifications AS c (relid, column_name, category, identifier, reveal)
        VALUES (tbl, col, classify.category, classify.identifier, classify.reveal)
        ON CONFLICT (relid, column_name) DO UPDATE
           SET category = EXCLUDED.category, identifier = EXCLUDED.identifier, reveal = EXCLUDED.reveal;
    PERFORM phleet._classify_sync(tbl);

    IF identifier IS NOT NULL THEN
        EXECUTE format('LOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE', tbl);
    END IF;
    IF identifier IS NOT NULL AND phleet._untrusted_code(tbl) IS NULL THEN
        EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE %I IS NOT NULL AND NOT phleet.is_pseudonym(%I))',
                       tbl, col, col) INTO raw;
        IF raw THEN
            RAISE NOTICE 'column "%" of table "%" holds values that are not pseudonyms yet', col, tbl
                USING HINT = format('Convert them with: CALL phleet.pseudonymize_existing(%L, %L);', tbl::text, col);
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION phleet.classify(regclass, name, phleet.category, text, boolean) IS
    'Classify a column of a governed table; with an identifier kind its values are pseudonymized on write, with reveal they are also kept in the vault';

CREATE FUNCTION phleet.unclassify(tbl regclass, col name)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF tbl IS NULL OR col IS NULL THEN
        RAISE EXCEPTION 'table and column must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM phleet.classifications c WHERE c.relid = tbl AND c.column_name = col;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table "%" is not classified', col, tbl
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM phleet._classify_sync(tbl);
END
$$;
COMMENT ON FUNCTION phleet.unclassify(regclass, name) IS
    'Remove a column''s classification; values written from now on are stored as given (existing pseudonyms stay)';

CREATE VIEW phleet.classified_columns AS
SELECT c.relid AS table_name,
       c.column_name,
       c.category,
       c.identifier,
       c.reveal,
       c.classified_at
  FROM phleet.classifications c;
COMMENT ON VIEW phleet.classified_columns IS
    'Classified columns: data category, identifier kind (pseudonymized on write) and whether the vault keeps them for reveal';
GRANT SELECT ON phleet.classified_columns TO PUBLIC;

-- Converting columns that held raw identifiers before they were classified.
CREATE FUNCTION phleet._convert_rows(part regclass, col name, controller_column name,
                                     controller text, kind text, from_block bigint, to_block bigint)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'phleet_convert_rows'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION phleet._convert_rows(regclass, name, name, text, text, bigint, bigint) IS
    'Internal: pseudonymize one controller''s raw values in a block range, as the table owner; returns {converted, invalid}';

-- One batch: every controller with raw values in blocks [from_block,
-- to_block) of one leaf table.  Entering contexts inside a procedure's
-- transaction warns that the context ends with it, which is the point here:
-- messages are kept down to errors.
CREATE FUNCTION phleet._pseudonymize_range(part regclass, col name, from_block bigint, to_block bigint)
RETURNS bigint[]
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET phleet.internal = on
SET phleet.controller = ''
SET client_min_messages = error
SET log_min_messages = error
AS $$
DECLARE
    root regclass := coalesce(pg_partition_root(part), part);
    ccol name;
    kind text;
    ctls text[];
    c text;
    r bigint[];
    converted bigint := 0;
    invalid bigint := 0;
BEGIN
    SELECT g.controller_column INTO ccol FROM phleet.governed g WHERE g.relid = root;
    SELECT k.identifier INTO kind FROM phleet.classifications k
     WHERE k.relid = root AND k.column_name = col AND k.identifier IS NOT NULL;
    IF ccol IS NULL OR kind IS NULL THEN
        RAISE EXCEPTION 'column "%" of table "%" is not classified with an identifier kind', col, root
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM phleet._refuse_untrusted_code(part, 'convert the values of');
    EXECUTE format('SELECT array_agg(DISTINCT %I ORDER BY %I) FROM %s '
                   'WHERE ctid >= %L::tid AND ctid < %L::tid AND %I IS NOT NULL AND NOT phleet.is_pseudonym(%I)',
                   ccol, ccol, part, format('(%s,0)', from_block), format('(%s,0)', to_block), col, col)
       INTO ctls;
    FOREACH c IN ARRAY coalesce(ctls, '{}') LOOP
        r := phleet._convert_rows(part, col, ccol, c, kind, from_block, to_block);
        converted := converted + r[1];
        invalid := invalid + r[2];
    END LOOP;
    RETURN ARRAY[converted, invalid];
END
$$;
COMMENT ON FUNCTION phleet._pseudonymize_range(regclass, name, bigint, bigint) IS
    'Internal: one batch of phleet.pseudonymize_existing(); returns {converted, invalid}';

-- A procedure without SET clauses, so that it can COMMIT between batches;
-- it runs as its (admin) caller and every privileged step is in
-- phleet._pseudonymize_range().
CREATE PROCEDURE phleet.pseudonymize_existing(tbl regclass, col name, batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
AS $$
DECLARE
    kind text;
    parts regclass[];
    part regclass;
    nblocks bigint;
    per_block float8;
    step bigint;
    b bigint;
    r bigint[];
    converted bigint := 0;
    invalid bigint := 0;
BEGIN
    IF tbl IS NULL OR col IS NULL OR batch_size IS NULL THEN
        RAISE EXCEPTION 'table, column and batch size must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF batch_size < 1 THEN
        RAISE EXCEPTION 'batch size must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT c.identifier INTO kind FROM phleet.classified_columns c
     WHERE c.table_name OPERATOR(pg_catalog.=) tbl AND c.column_name OPERATOR(pg_catalog.=) col;
    IF kind IS NULL THEN
        RAISE EXCEPTION 'column "%" of table "%" is not classified with an identifier kind', col, tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Classify it first with phleet.classify(..., identifier => ''phone'') (or another kind).';
    END IF;
    -- the table itself, or the leaf partitions of a partitioned table
    SELECT pg_catalog.array_agg(t.relid ORDER BY t.relid::oid) INTO parts
      FROM pg_catalog.pg_partition_tree(tbl) t
      JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.relid
     WHERE t.isleaf AND c.relkind OPERATOR(pg_catalog.=) 'r';
    IF parts IS NULL THEN
        parts := ARRAY[tbl];
    END IF;

    FOREACH part IN ARRAY parts LOOP
        nblocks := pg_catalog.pg_relation_size(part) OPERATOR(pg_catalog./)
                   pg_catalog.current_setting('block_size')::bigint;
        SELECT CASE WHEN c.relpages OPERATOR(pg_catalog.>) 0 AND c.reltuples OPERATOR(pg_catalog.>) 0
                    THEN c.reltuples OPERATOR(pg_catalog./) c.relpages ELSE 100 END
          INTO per_block FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) part;
        step := GREATEST(1, pg_catalog.ceil(batch_size OPERATOR(pg_catalog./) per_block)::bigint);
        b := 0;
        WHILE b OPERATOR(pg_catalog.<) nblocks LOOP
            r := phleet._pseudonymize_range(part, col, b, b OPERATOR(pg_catalog.+) step);
            converted := converted OPERATOR(pg_catalog.+) r[1];
            invalid := invalid OPERATOR(pg_catalog.+) r[2];
            COMMIT;
            b := b OPERATOR(pg_catalog.+) step;
            RAISE NOTICE 'pseudonymize_existing: %.%: % of % blocks done, % values converted so far',
                part, col, LEAST(b, nblocks), nblocks, converted;
        END LOOP;
    END LOOP;

    IF invalid OPERATOR(pg_catalog.>) 0 THEN
        RAISE WARNING 'column "%" of table "%" still holds % value(s) that are not valid identifiers of kind %',
            col, tbl, invalid, kind
            USING HINT = 'Correct them or set them to NULL, then call phleet.pseudonymize_existing() again.';
    END IF;
    RAISE NOTICE 'pseudonymize_existing: %.%: % values converted', tbl, col, converted;
END
$$;
COMMENT ON PROCEDURE phleet.pseudonymize_existing(regclass, name, integer) IS
    'Pseudonymize the raw identifiers a classified column already holds, in batches of about batch_size rows committed one by one (resumable; call outside a transaction block)';

REVOKE ALL ON FUNCTION phleet.classify(regclass, name, phleet.category, text, boolean),
    phleet.unclassify(regclass, name), phleet._classify_sync(regclass),
    phleet._convert_rows(regclass, name, name, text, text, bigint, bigint),
    phleet._pseudonymize_range(regclass, name, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON PROCEDURE phleet.pseudonymize_existing(regclass, name, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION phleet.classify(regclass, name, phleet.category, text, boolean),
    phleet.unclassify(regclass, name), phleet._pseudonymize_range(regclass, name, bigint, bigint)
    TO phleet_admin;
GRANT EXECUTE ON PROCEDURE phleet.pseudonymize_existing(regclass, name, integer) TO phleet_admin;

-- Classified columns follow their table: dropped columns and tables leave
-- the registry; renaming a classified column or changing its type away from
-- text is refused (the trigger names its columns).
CREATE FUNCTION phleet._classify_on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
BEGIN
    FOR d IN SELECT * FROM pg_event_trigger_dropped_objects()
              WHERE classid = 'pg_class'::regclass LOOP
        IF d.objsubid = 0 THEN
            DELETE FROM phleet.classifications c WHERE c.relid::oid = d.objid;
        ELSIF d.object_type = 'table column' THEN
            DELETE FROM phleet.classifications c
             WHERE c.relid::oid = d.objid AND c.column_name = d.address_names[3];
            IF FOUND THEN
                PERFORM phleet._classify_sync(d.objid::regclass);
            END IF;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION phleet._classify_on_sql_drop() IS
    'Internal event trigger: forgets the classifications of dropped columns and tables';

CREATE FUNCTION phleet._classify_on_ddl_end()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k record;
BEGIN
    FOR k IN
        SELECT c.relid, c.column_name, c.identifier, a.atttypid, a.atttypmod
          FROM (SELECT DISTINCT cmd.objid FROM pg_event_trigger_ddl_commands() cmd
                 WHERE cmd.classid = 'pg_class'::regclass) cmd
          JOIN phleet.classifications c ON c.relid::oid = cmd.objid
          LEFT JOIN pg_attribute a ON a.attrelid = c.relid AND a.attname = c.column_name
                                  AND a.attnum > 0 AND NOT a.attisdropped
    LOOP
        IF k.atttypid IS NULL THEN
            RAISE EXCEPTION 'cannot rename classified column "%" of table "%"', k.column_name, k.relid
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = 'Unclassify it with phleet.unclassify(), rename it, then classify it again.';
        END IF;
        IF k.identifier IS NOT NULL AND (k.atttypid NOT IN ('text'::regtype, 'varchar'::regtype)
                                         OR (k.atttypid = 'varchar'::regtype AND k.atttypmod <> -1
                                             AND k.atttypmod - 4 < 37)) THEN
            RAISE EXCEPTION 'identifier column "%" of table "%" must stay of type text', k.column_name, k.relid
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = 'It holds pseudonyms of 37 characters.';
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION phleet._classify_on_ddl_end() IS
    'Internal event trigger: refuses to rename classified columns or retype identifier columns';

REVOKE ALL ON FUNCTION phleet._classify_on_sql_drop(), phleet._classify_on_ddl_end() FROM PUBLIC;

CREATE EVENT TRIGGER phleet_classify_sql_drop ON sql_drop
    WHEN TAG IN ('DROP TABLE', 'ALTER TABLE', 'DROP SCHEMA', 'DROP OWNED')
    EXECUTE FUNCTION phleet._classify_on_sql_drop();
CREATE EVENT TRIGGER phleet_classify_ddl_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION phleet._classify_on_ddl_end();
COMMENT ON EVENT TRIGGER phleet_classify_sql_drop IS 'phleet: forgets classifications of dropped columns and tables';
COMMENT ON EVENT TRIGGER phleet_classify_ddl_end IS 'phleet: refuses renaming classified columns and retyping identifier columns';
