# phleet: PGXS build.
#
#   make && make install          build and install (as root)
#   make test                     install Debian build/test packages, build, install,
#                                 run every suite as the postgres OS user (what CI runs)
#   make demo                     throwaway cluster + walkthrough (see README)
#   make installcheck             regress + isolation + TAP against the installed build
#
# The install script is assembled from one SQL part per concern (src/<concern>.sql),
# in the order listed in SQL_PARTS, so each concern keeps its C and SQL side by side.

EXTENSION = phleet
MODULE_big = phleet
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA_built = phleet--1.0.sql

SQL_ORDER = header controllers context govern check normalize keys pseudonym classify vault retention
SQL_PARTS = $(foreach p,$(SQL_ORDER),$(wildcard src/$(p).sql))

PG_CPPFLAGS = -I$(srcdir)/src
SHLIB_LINK = -lcrypto

# pg_regress: one file per object family, each self-contained, on a throwaway
# instance with phleet (and pg_cron) preloaded.
REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --temp-instance=tmp_regress --temp-config=$(srcdir)/test/regress.conf

ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=$(srcdir)/test/isolation --outputdir=output_iso \
	--temp-instance=tmp_isolation --temp-config=$(srcdir)/test/regress.conf

TAP_TESTS = $(if $(wildcard test/t/*.pl),1,)
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))

EXTRA_CLEAN = results output_iso tmp_check tmp_regress tmp_isolation regression.diffs regression.out log fuzz/bin

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS := $(wildcard $(shell $(PG_CONFIG) --pgxs 2>/dev/null))
ifneq ($(PGXS),)
include $(PGXS)

# Debian's PGXS does not track header dependencies: rebuild every object when
# a header changes (a stale object with an old struct layout corrupts memory).
$(OBJS): $(wildcard src/*.h)

# The three suites one by one (installcheck runs them all).
.PHONY: installcheck-regress installcheck-isolation installcheck-tap
installcheck-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)
installcheck-isolation:
	$(if $(ISOLATION),$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION),@echo "no isolation tests")
installcheck-tap:
	$(if $(TAP_TESTS),$(prove_installcheck),@echo "no TAP tests")
else
# No server development files yet: only the targets that install them work.
all installcheck install:
	@echo "PostgreSQL 15 server development files are missing: run 'make test' or 'test/deps.sh'" >&2; exit 1
endif

phleet--1.0.sql: $(SQL_PARTS)
	cat $^ > $@

.PHONY: test demo deps fuzz check-werror

deps:
	test/deps.sh

test:
	test/run-all.sh

demo:
	test/deps.sh
	test/demo.sh

fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

# CI builds once with warnings as errors and assertions on.
check-werror:
	$(MAKE) clean
	$(MAKE) COPT='-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare -Werror -DUSE_ASSERT_CHECKING'
