
-------------------------------------------------------------------------------
-- controllers: roles, controllers, role bindings
-------------------------------------------------------------------------------

-- The first C function loads the library; in a server that did not preload
-- phleet this fails here with a hint naming shared_preload_libraries.
CREATE FUNCTION phleet.current_controller() RETURNS text
    AS 'MODULE_PATHNAME', 'phleet_current_controller'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION phleet.current_controller() IS
    'Controller the session is acting for (its login role''s binding, else the entered context); NULL outside any context';

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'phleet_admin') THEN
        CREATE ROLE phleet_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'phleet_gateway') THEN
        CREATE ROLE phleet_gateway NOLOGIN;
    END IF;
END
$$;
COMMENT ON ROLE phleet_admin IS 'phleet: manages controllers, bindings, governed tables and tokens';
COMMENT ON ROLE phleet_gateway IS 'phleet: trusted connection pools that may enter any controller''s context';

GRANT USAGE ON SCHEMA phleet TO PUBLIC;

CREATE TABLE phleet.controllers (
    handle       text PRIMARY KEY
                 CONSTRAINT controllers_handle_check CHECK (handle ~ '^[a-z0-9_-]{1,63}$'),
    display_name text,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE phleet.controllers IS
    'Business customers (data controllers); members of phleet_admin see all, others only their current controller';
ALTER TABLE phleet.controllers ENABLE ROW LEVEL SECURITY;
CREATE POLICY controllers_visible ON phleet.controllers FOR SELECT TO PUBLIC
    USING (pg_catalog.pg_has_role('phleet_admin', 'USAGE')
           OR handle = phleet.current_controller());
REVOKE ALL ON phleet.controllers FROM PUBLIC;
GRANT SELECT ON phleet.controllers TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('phleet.controllers', '');

CREATE FUNCTION phleet.cache_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'phleet_cache_changed'
    LANGUAGE C;
COMMENT ON FUNCTION phleet.cache_changed() IS
    'Trigger: tells every backend to drop what it cached from this table (role bindings, controller keys)';

CREATE TABLE phleet.role_bindings (
    role       regrole PRIMARY KEY,
    controller text NOT NULL REFERENCES phleet.controllers (handle),
    bound_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE phleet.role_bindings IS
    'Login roles bound to one controller: their sessions act for it and for no other';
CREATE TRIGGER bindings_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON phleet.role_bindings
    FOR EACH STATEMENT EXECUTE FUNCTION phleet.cache_changed();
COMMENT ON TRIGGER bindings_changed ON phleet.role_bindings IS
    'phleet: backends drop their cached bindings when bindings change';
REVOKE ALL ON phleet.role_bindings FROM PUBLIC;
GRANT SELECT ON phleet.role_bindings TO phleet_admin;
SELECT pg_catalog.pg_extension_config_dump('phleet.role_bindings', '');

CREATE FUNCTION phleet.controller_create(handle text, display_name text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF handle IS NULL THEN
        RAISE EXCEPTION 'controller handle must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF handle !~ '^[a-z0-9_-]{1,63}$' THEN
        RAISE EXCEPTION 'invalid controller handle "%"', handle
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A controller handle is 1 to 63 characters of a-z, 0-9, "_" and "-".',
                  HINT = 'Use a slug, a numeric id or a lower-case UUID.';
    END IF;
    INSERT INTO phleet.controllers AS c (handle, display_name)
        VALUES (controller_create.handle, controller_create.display_name)
        ON CONFLICT ON CONSTRAINT controllers_pkey DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'controller "%" already exists', handle
            USING ERRCODE = 'duplicate_object';
    END IF;
    RETURN handle;
END
$$;
COMMENT ON FUNCTION phleet.controller_create(text, text) IS
    'Create a controller (business customer); returns its handle';

CREATE FUNCTION phleet.bind_role(role regrole, controller text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    current_binding text;
BEGIN
    IF role IS NULL OR controller IS NULL THEN
        RAISE EXCEPTION 'role and controller must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM phleet.controllers c WHERE c.handle = controller) THEN
        RAISE EXCEPTION 'controller "%" does not exist', controller
            USING ERRCODE = 'undefined_object';
    END IF;
    IF EXISTS (SELECT FROM pg_roles r WHERE r.oid = role AND (r.rolsuper OR r.rolbypassrls)) THEN
        RAISE EXCEPTION 'cannot bind role "%" to a controller', role
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The role is a superuser or has BYPASSRLS, so row-level security never applies to it.',
                  HINT = 'Bind a role without SUPERUSER and BYPASSRLS.';
    END IF;
    SELECT b.controller INTO current_binding FROM phleet.role_bindings b WHERE b.role = bind_role.role;
    IF current_binding = controller THEN
        RETURN;
    ELSIF current_binding IS NOT NULL THEN
        RAISE EXCEPTION 'role "%" is already bound to controller "%"', role, current_binding
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Unbind it first with phleet.unbind_role().';
    END IF;
    INSERT INTO phleet.role_bindings (role, controller) VALUES (bind_role.role, bind_role.controller);
END
$$;
COMMENT ON FUNCTION phleet.bind_role(regrole, text) IS
    'Bind a login role to one controller: its sessions act for that controller and can never enter another';

CREATE FUNCTION phleet.unbind_role(role regrole)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM phleet.role_bindings b WHERE b.role = unbind_role.role;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" is not bound to a controller', role
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION phleet.unbind_role(regrole) IS 'Remove a role''s controller binding';

REVOKE ALL ON FUNCTION phleet.controller_create(text, text), phleet.bind_role(regrole, text),
    phleet.unbind_role(regrole) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION phleet.controller_create(text, text), phleet.bind_role(regrole, text),
    phleet.unbind_role(regrole) TO phleet_admin;
