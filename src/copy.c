/*-------------------------------------------------------------------------
 *
 * copy.c
 *	  COPY FROM STDIN into governed tables.
 *
 * PostgreSQL refuses COPY FROM for any role subject to row-level security
 * ("COPY FROM not supported with row-level security").  Leads arrive in
 * bulk, so for a governed table whose stamp trigger fires in this session
 * phleet runs the COPY itself: the same permission checks DoCopy() makes,
 * then PostgreSQL's own BeginCopyFrom()/CopyFrom(), whose BEFORE ROW
 * triggers (phleet.stamp_controller among them) stamp and check every row
 * against the controller context.  Nothing else changes: the role needs
 * INSERT on the table and its columns, and without a context nothing is
 * copied.
 *
 * Only COPY ... FROM STDIN is taken over; COPY from a file or a program, and
 * COPY by roles that bypass row-level security, go to PostgreSQL unchanged.
 * CopyFrom() applies no policy, so a table with INSERT policies of its own
 * (besides phleet_isolation and phleet_access) is refused: its WITH CHECK
 * expressions would be skipped.
 *
 * The preparation below follows DoCopy() in src/backend/commands/copy.c of
 * PostgreSQL 15:
 *	  Portions Copyright (c) 1996-2022, PostgreSQL Global Development Group
 *	  Portions Copyright (c) 1994, Regents of the University of California
 *
 *-------------------------------------------------------------------------
 */
#include "phleet.h"

#include "access/sysattr.h"
#include "access/xact.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "commands/copy.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_relation.h"
#include "rewrite/rowsecurity.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"

/*
 * Run a COPY FROM STDIN into a governed table for a role subject to
 * row-level security.  Returns false (doing nothing) for every other COPY,
 * which the caller hands to PostgreSQL.
 */
/*
 * Rethrow the error being handled without the input COPY quotes in its
 * context ("COPY leads, line 3, column phone: \"+1 555 ...\"" becomes
 * "COPY leads, line 3, column phone"): that line holds raw identifiers,
 * and PostgreSQL writes the context to the server log, whatever the client
 * did to keep values out of it (bind parameters do not apply to COPY data).
 * The quote runs to the end of the context (a CSV field may hold newlines;
 * COPY FROM STDIN is the outermost context there is).
 */
static void
copy_rethrow_redacted(MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	if (edata->context != NULL)
	{
		char	   *line = edata->context;

		while (line != NULL)
		{
			char	   *next = strchr(line, '\n');
			char	   *quote = strncmp(line, "COPY ", 5) == 0 ? strstr(line, ": \"") : NULL;

			if (quote != NULL && (next == NULL || quote < next))
			{
				*quote = '\0';
				break;
			}
			line = next ? next + 1 : NULL;
		}
	}
	ReThrowError(edata);
}

bool
phleet_copy_from(PlannedStmt *pstmt, const char *queryString, QueryCompletion *qc)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	CopyStmt   *stmt = (CopyStmt *) pstmt->utilityStmt;
	Oid			relid;
	bool		fires;
	ParseState *pstate;
	Relation	rel;
	ParseNamespaceItem *nsitem;
	RangeTblEntry *rte;
	Node	   *whereClause = NULL;
	List	   *attnums;
	ListCell   *cur;
	CopyFromState cstate;
	uint64		processed;

	if (!stmt->is_from || stmt->relation == NULL ||
		stmt->filename != NULL || stmt->is_program)
		return false;

	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid) ||
		!phleet_relation_is_governed(relid, &fires) || !fires ||
		check_enable_rls(relid, InvalidOid, false) != RLS_ENABLED)
		return false;

	pstate = make_parsestate(NULL);
	pstate->p_sourcetext = queryString;

	rel = table_openrv(stmt->relation, RowExclusiveLock);
	if (RelationGetRelid(rel) != relid &&
		(!phleet_relation_is_governed(RelationGetRelid(rel), &fires) || !fires))
	{
		/* renamed under us: let PostgreSQL handle the table it finds now */
		table_close(rel, RowExclusiveLock);
		free_parsestate(pstate);
		return false;
	}

	if (rel->rd_rsdesc != NULL)
	{
		foreach(cur, rel->rd_rsdesc->policies)
		{
			RowSecurityPolicy *policy = (RowSecurityPolicy *) lfirst(cur);

			if (strcmp(policy->policy_name, PHLEET_POLICY_NAME) == 0 ||
				strcmp(policy->policy_name, "phleet_access") == 0)
				continue;
			if (policy->polcmd == '*' || policy->polcmd == ACL_INSERT_CHR)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("COPY FROM cannot apply policy \"%s\" of governed table \"%s\"",
								policy->policy_name, RelationGetRelationName(rel)),
						 errdetail("COPY FROM checks rows only with phleet's stamp trigger, not with the table's own row-level security policies."),
						 errhint("Use INSERT, or drop the policy's INSERT part.")));
		}
	}

	nsitem = addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock,
										   NULL, false, false);
	rte = nsitem->p_rte;
	rte->requiredPerms = ACL_INSERT;

	if (stmt->whereClause)
	{
		addNSItemToQuery(pstate, nsitem, false, true, true);
		whereClause = transformExpr(pstate, stmt->whereClause, EXPR_KIND_COPY_WHERE);
		whereClause = coerce_to_boolean(pstate, whereClause, "WHERE");
		assign_expr_collations(pstate, whereClause);
		whereClause = eval_const_expressions(NULL, whereClause);
		whereClause = (Node *) canonicalize_qual((Expr *) whereClause, false);
		whereClause = (Node *) make_ands_implicit((Expr *) whereClause);
	}

	attnums = CopyGetAttnums(RelationGetDescr(rel), rel, stmt->attlist);
	foreach(cur, attnums)
	{
		int			attno = lfirst_int(cur) - FirstLowInvalidHeapAttributeNumber;

		rte->insertedCols = bms_add_member(rte->insertedCols, attno);
	}
	ExecCheckRTPerms(pstate->p_rtable, true);

	if (phleet_context_current() == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("no controller context for writing to governed table \"%s\"",
						RelationGetRelationName(rel)),
				 errhint("Enter a context first with phleet.enter() or phleet.enter_token().")));

	if (XactReadOnly && !rel->rd_islocaltemp)
		PreventCommandIfReadOnly("COPY FROM");

	cstate = BeginCopyFrom(pstate, rel, whereClause, NULL, false, NULL,
						   stmt->attlist, stmt->options);
	PG_TRY();
	{
		processed = CopyFrom(cstate);
	}
	PG_CATCH();
	{
		copy_rethrow_redacted(oldcxt);
	}
	PG_END_TRY();
	EndCopyFrom(cstate);

	table_close(rel, NoLock);
	free_parsestate(pstate);

	if (qc)
		SetQueryCompletion(qc, CMDTAG_COPY, processed);
	return true;
}
