import { parse } from 'libpg-query';
import { quoteIdent } from '../sql/identifiers.js';

/**
 * What one captured DDL statement is, read from PostgreSQL's own parse tree (libpg-query): its
 * command tag, the object it touches, and the statement that undoes it when one exists. Used for
 * every captured change, whether it came through the API, a direct connection (event trigger) or
 * an import, so `GET /diff` and revert behave the same whatever the path.
 */

export interface DdlChange {
  statement: string;
  commandTag: string;
  objectType: string | null;
  objectIdentity: string | null;
  inverse: string | null;
  irreversibleReason: string | null;
}

/** Statements that change no schema: a script mixing DDL and DML keeps only its DDL in the queue. */
const NOT_DDL = new Set([
  'SelectStmt',
  'InsertStmt',
  'UpdateStmt',
  'DeleteStmt',
  'MergeStmt',
  'TransactionStmt',
  'VariableSetStmt',
  'VariableShowStmt',
  'ExplainStmt',
  'CopyStmt',
  'PrepareStmt',
  'ExecuteStmt',
  'DeallocateStmt',
  'DeclareCursorStmt',
  'FetchStmt',
  'ClosePortalStmt',
  'LockStmt',
  'ListenStmt',
  'NotifyStmt',
  'UnlistenStmt',
  'DiscardStmt',
  'CheckPointStmt',
  'VacuumStmt',
  'CallStmt',
  'DoStmt',
  // Data, not schema: nothing a tenant database should replay.
  'TruncateStmt',
  'RefreshMatViewStmt',
  // Grants name the workspace's own login role: they cannot replay in a tenant's database.
  'GrantStmt',
  'GrantRoleStmt',
  'AlterDefaultPrivilegesStmt',
]);

interface RangeVar {
  schemaname?: string;
  relname?: string;
}

function relationName(rel: RangeVar | undefined): string | null {
  if (!rel?.relname) return null;
  return rel.schemaname ? `${quoteIdent(rel.schemaname)}.${quoteIdent(rel.relname)}` : quoteIdent(rel.relname);
}

function nameList(parts: Array<{ String?: { sval?: string } }> | undefined): string | null {
  const names = (parts ?? []).map((p) => p.String?.sval).filter((s): s is string => Boolean(s));
  return names.length > 0 ? names.map(quoteIdent).join('.') : null;
}

const irreversible = (reason: string) => ({ inverse: null, irreversibleReason: reason });

/** One statement's parse-tree node → its description and inverse. */
export function describeDdl(type: string, node: Record<string, unknown>, text: string): DdlChange {
  const base = { statement: text };
  switch (type) {
    case 'CreateStmt': {
      const name = relationName(node.relation as RangeVar);
      return {
        ...base,
        commandTag: 'CREATE TABLE',
        objectType: 'table',
        objectIdentity: name,
        ...(name ? { inverse: `DROP TABLE ${name}`, irreversibleReason: null } : irreversible('no table name')),
      };
    }
    case 'AlterTableStmt': {
      const name = relationName(node.relation as RangeVar);
      const cmds = ((node.cmds as Array<{ AlterTableCmd?: Record<string, unknown> }>) ?? []).map(
        (c) => c.AlterTableCmd ?? {},
      );
      const kind = (node.objtype as string | undefined) ?? 'OBJECT_TABLE';
      const columns = cmds.map((c) =>
        c.subtype === 'AT_AddColumn'
          ? ((c.def as { ColumnDef?: { colname?: string } })?.ColumnDef?.colname ?? null)
          : null,
      );
      const result = { ...base, commandTag: 'ALTER TABLE', objectType: 'table', objectIdentity: name };
      if (kind !== 'OBJECT_TABLE')
        return {
          ...result,
          commandTag: `ALTER ${kind.replace('OBJECT_', '')}`,
          ...irreversible('only ALTER TABLE … ADD COLUMN can be reverted automatically'),
        };
      if (name && columns.length > 0 && columns.every((c) => c !== null)) {
        return {
          ...result,
          inverse: `ALTER TABLE ${name} ${columns.map((c) => `DROP COLUMN ${quoteIdent(c!)}`).join(', ')}`,
          irreversibleReason: null,
        };
      }
      const subtypes = [...new Set(cmds.map((c) => String(c.subtype ?? 'unknown').replace(/^AT_/, '')))];
      return {
        ...result,
        ...irreversible(
          `ALTER TABLE ${subtypes.join(', ')} cannot be reverted automatically: the previous definition is not recorded (only ADD COLUMN is reversible)`,
        ),
      };
    }
    case 'IndexStmt': {
      const index = node.idxname as string | undefined;
      const table = node.relation as RangeVar | undefined;
      const name = index
        ? table?.schemaname
          ? `${quoteIdent(table.schemaname)}.${quoteIdent(index)}`
          : quoteIdent(index)
        : null;
      return {
        ...base,
        commandTag: 'CREATE INDEX',
        objectType: 'index',
        objectIdentity: name,
        ...(name
          ? { inverse: `DROP INDEX ${name}`, irreversibleReason: null }
          : irreversible('the index has no explicit name, so the statement that drops it cannot be known in advance')),
      };
    }
    case 'ViewStmt': {
      const name = relationName(node.view as RangeVar);
      const replace = Boolean(node.replace);
      return {
        ...base,
        commandTag: 'CREATE VIEW',
        objectType: 'view',
        objectIdentity: name,
        ...(name && !replace
          ? { inverse: `DROP VIEW ${name}`, irreversibleReason: null }
          : irreversible('CREATE OR REPLACE VIEW may have replaced a view whose definition is not recorded')),
      };
    }
    case 'CreateSeqStmt': {
      const name = relationName(node.sequence as RangeVar);
      return {
        ...base,
        commandTag: 'CREATE SEQUENCE',
        objectType: 'sequence',
        objectIdentity: name,
        ...(name ? { inverse: `DROP SEQUENCE ${name}`, irreversibleReason: null } : irreversible('no sequence name')),
      };
    }
    case 'CreateEnumStmt': {
      const name = nameList(node.typeName as Array<{ String?: { sval?: string } }>);
      return {
        ...base,
        commandTag: 'CREATE TYPE',
        objectType: 'type',
        objectIdentity: name,
        ...(name ? { inverse: `DROP TYPE ${name}`, irreversibleReason: null } : irreversible('no type name')),
      };
    }
    case 'DropStmt': {
      const kind = String(node.removeType ?? 'OBJECT').replace('OBJECT_', '');
      return {
        ...base,
        commandTag: `DROP ${kind}`,
        objectType: kind.toLowerCase(),
        objectIdentity: null,
        ...irreversible('a dropped object (and its data) cannot be recreated from the statement that dropped it'),
      };
    }
    case 'RenameStmt':
      return {
        ...base,
        commandTag: 'ALTER (RENAME)',
        objectType:
          String(node.renameType ?? '')
            .replace('OBJECT_', '')
            .toLowerCase() || null,
        objectIdentity: relationName(node.relation as RangeVar),
        ...irreversible('renames are not reverted automatically: run the opposite RENAME yourself'),
      };
    default: {
      const tag = type
        .replace(/Stmt$/, '')
        .replace(/([a-z])([A-Z])/g, '$1 $2')
        .toUpperCase();
      return {
        ...base,
        commandTag: tag,
        objectType: null,
        objectIdentity: null,
        ...irreversible(`${tag} has no automatic inverse`),
      };
    }
  }
}

/**
 * Splits a script (what a client sent) into its DDL statements, described. A script the parser
 * cannot read (it ran, so it is valid SQL for the server, but perhaps of a newer grammar) is kept
 * whole under `fallbackTag`, marked irreversible.
 */
export async function ddlStatementsOf(script: string, fallbackTag = 'DDL'): Promise<DdlChange[]> {
  let stmts;
  try {
    stmts = (await parse(script)).stmts ?? [];
  } catch {
    return [
      {
        statement: script.trim(),
        commandTag: fallbackTag,
        objectType: null,
        objectIdentity: null,
        inverse: null,
        irreversibleReason: 'the statement could not be parsed, so no inverse is known',
      },
    ];
  }
  const bytes = Buffer.from(script, 'utf8');
  const out: DdlChange[] = [];
  for (const raw of stmts) {
    const node = raw.stmt as Record<string, unknown>;
    const type = Object.keys(node)[0] ?? 'Unknown';
    if (NOT_DDL.has(type)) continue;
    const start = raw.stmt_location ?? 0;
    const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
    const text = bytes.subarray(start, end).toString('utf8').trim().replace(/;$/, '');
    out.push(describeDdl(type, node[type] as Record<string, unknown>, text));
  }
  return out;
}
