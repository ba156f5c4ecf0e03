/**
 * Drift check: does a database migrated from prisma/migrations match what schema.prisma describes?
 *
 * Prisma's own `migrate diff` needs the native schema engine, which cannot be downloaded everywhere, so
 * this compares the models of Prisma's DMMF (from the WebAssembly schema parser) with the catalog of a
 * migrated database: tables, columns (type, nullability), enums (values in order), primary keys, unique
 * and plain indexes, and foreign keys (columns, target, ON DELETE). Views, implicit many-to-many tables and
 * index names are not checked.
 *
 *   npx tsx scripts/schema-drift.ts          migrate a scratch database on DATABASE_URL's server, compare, drop it
 *   npx tsx scripts/schema-drift.ts --url U  compare an already migrated database U
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { get_dmmf } from '@prisma/prisma-schema-wasm';
import pg from 'pg';

export const SCHEMA_PATH = fileURLToPath(new URL('../prisma/schema.prisma', import.meta.url));

/** One schema reduced to comparable facts, each a line such as `column jobs.status "JobStatus" not null`. */
export interface SchemaFacts {
  tables: Set<string>;
  facts: Set<string>;
}

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'enum' | 'object' | 'unsupported';
  type: string;
  isList: boolean;
  isRequired: boolean;
  nativeType?: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}
interface DmmfEnum {
  name: string;
  dbName?: string | null;
  values: { name: string; dbName: string | null }[];
}
interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  fields: { name: string }[];
}
interface Dmmf {
  datamodel: { models: DmmfModel[]; enums: DmmfEnum[]; indexes: DmmfIndex[] };
}

const SCALAR_TYPES: Record<string, string> = {
  String: 'text',
  Int: 'int4',
  BigInt: 'int8',
  Float: 'float8',
  Decimal: 'numeric',
  Boolean: 'bool',
  DateTime: 'timestamp',
  Json: 'jsonb',
  Bytes: 'bytea',
};
const NATIVE_TYPES: Record<string, string> = {
  Text: 'text',
  VarChar: 'varchar',
  Char: 'bpchar',
  Uuid: 'uuid',
  Xml: 'xml',
  Inet: 'inet',
  Citext: 'citext',
  Boolean: 'bool',
  SmallInt: 'int2',
  Integer: 'int4',
  BigInt: 'int8',
  Oid: 'oid',
  Real: 'float4',
  DoublePrecision: 'float8',
  Decimal: 'numeric',
  Money: 'money',
  Timestamp: 'timestamp',
  Timestamptz: 'timestamptz',
  Date: 'date',
  Time: 'time',
  Timetz: 'timetz',
  Json: 'json',
  JsonB: 'jsonb',
  ByteA: 'bytea',
  Bit: 'bit',
  VarBit: 'varbit',
};
const WITH_PRECISION = new Set(['timestamp', 'timestamptz', 'time', 'timetz']);
const ON_DELETE: Record<string, string> = { a: 'NoAction', r: 'Restrict', c: 'Cascade', n: 'SetNull', d: 'SetDefault' };

/** What schema.prisma says the database must contain, as Prisma's migrations would create it. */
export function expectedFacts(prismaSchema: string): SchemaFacts {
  const dmmf = JSON.parse(get_dmmf(JSON.stringify({ prismaSchema }))) as Dmmf;
  const { models, enums, indexes } = dmmf.datamodel;
  const enumNames = new Map(enums.map((e) => [e.name, e.dbName ?? e.name]));
  const tableOf = new Map(models.map((m) => [m.name, m.dbName ?? m.name]));
  const columnOf = (model: string, field: string) => {
    const f = models.find((m) => m.name === model)?.fields.find((x) => x.name === field);
    return f?.dbName ?? field;
  };
  const tables = new Set<string>();
  const facts = new Set<string>();

  for (const e of enums) facts.add(`enum "${e.dbName ?? e.name}" (${e.values.map((v) => v.dbName ?? v.name).join(', ')})`);
  for (const model of models) {
    const table = model.dbName ?? model.name;
    tables.add(table);
    for (const field of model.fields) {
      if (field.kind === 'object') {
        if (field.relationFromFields?.length) {
          const from = field.relationFromFields.map((f) => columnOf(model.name, f));
          const to = (field.relationToFields ?? []).map((f) => columnOf(field.type, f));
          const required = field.relationFromFields.every((f) => model.fields.find((x) => x.name === f)?.isRequired);
          const onDelete = field.relationOnDelete ?? (required ? 'Restrict' : 'SetNull');
          facts.add(`foreign key ${table}(${from.join(', ')}) -> ${tableOf.get(field.type)}(${to.join(', ')}) on delete ${onDelete}`);
        }
        continue;
      }
      const type = field.kind === 'enum' ? `"${enumNames.get(field.type) ?? field.type}"` : scalarType(field);
      // Prisma creates scalar-list columns without NOT NULL, whatever the schema says.
      const nullable = field.isList || !field.isRequired;
      facts.add(`column ${table}.${field.dbName ?? field.name} ${type}${field.isList ? '[]' : ''}${nullable ? '' : ' not null'}`);
    }
  }
  for (const index of indexes) {
    if (index.type === 'fulltext') continue;
    const kind = index.type === 'id' ? 'primary key' : index.type === 'unique' ? 'unique index' : 'index';
    facts.add(`${kind} ${tableOf.get(index.model)}(${index.fields.map((f) => columnOf(index.model, f.name)).join(', ')})`);
  }
  return { tables, facts };
}

function scalarType(field: DmmfField): string {
  const [native, args = []] = field.nativeType ?? [];
  const base = native ? NATIVE_TYPES[native] : SCALAR_TYPES[field.type];
  if (!base) throw new Error(`schema-drift: no Postgres type known for ${field.type}${native ? ` @db.${native}` : ''}`);
  // Prisma's defaults: DateTime is timestamp(3), Decimal is numeric(65,30).
  if (WITH_PRECISION.has(base)) return `${base}(${args[0] ?? 3})`;
  if (base === 'numeric') return `numeric(${args[0] ?? 65},${args[1] ?? 30})`;
  if (base === 'varchar' && args[0]) return `varchar(${args[0]})`;
  if (base === 'bpchar') return `bpchar(${args[0] ?? 1})`;
  return base;
}

/** What the database at `databaseUrl` contains, in the same terms (its current schema, minus Prisma's bookkeeping). */
export async function actualFacts(databaseUrl: string): Promise<SchemaFacts> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const tables = new Set<string>();
    const facts = new Set<string>();
    const tableRows = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations'`,
    );
    for (const row of tableRows.rows) tables.add(row.table_name);

    const columns = await client.query<{
      table_name: string;
      column_name: string;
      data_type: string;
      udt_name: string;
      is_nullable: 'YES' | 'NO';
      datetime_precision: number | null;
      character_maximum_length: number | null;
      numeric_precision: number | null;
      numeric_scale: number | null;
    }>(
      `SELECT table_name, column_name, data_type, udt_name, is_nullable, datetime_precision,
              character_maximum_length, numeric_precision, numeric_scale
         FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name <> '_prisma_migrations'`,
    );
    for (const c of columns.rows) {
      if (!tables.has(c.table_name)) continue;
      let type: string;
      if (c.data_type === 'ARRAY') type = `${c.udt_name.replace(/^_/, '')}[]`;
      else if (c.data_type === 'USER-DEFINED') type = `"${c.udt_name}"`;
      else if (WITH_PRECISION.has(c.udt_name)) type = `${c.udt_name}(${c.datetime_precision})`;
      else if (c.udt_name === 'numeric') type = `numeric(${c.numeric_precision},${c.numeric_scale})`;
      else if ((c.udt_name === 'varchar' || c.udt_name === 'bpchar') && c.character_maximum_length !== null) {
        type = `${c.udt_name}(${c.character_maximum_length})`;
      } else type = c.udt_name;
      facts.add(`column ${c.table_name}.${c.column_name} ${type}${c.is_nullable === 'NO' ? ' not null' : ''}`);
    }

    const enums = await client.query<{ name: string; values: string[] }>(
      `SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS values
         FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = current_schema() GROUP BY t.typname`,
    );
    for (const e of enums.rows) facts.add(`enum "${e.name}" (${e.values.join(', ')})`);

    const indexes = await client.query<{ table: string; primary: boolean; unique: boolean; columns: string[] }>(
      `SELECT t.relname AS table, ix.indisprimary AS primary, ix.indisunique AS unique,
              array(SELECT a.attname::text FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
         FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = current_schema() AND t.relname <> '_prisma_migrations'`,
    );
    for (const i of indexes.rows) {
      const kind = i.primary ? 'primary key' : i.unique ? 'unique index' : 'index';
      facts.add(`${kind} ${i.table}(${i.columns.join(', ')})`);
    }

    const foreignKeys = await client.query<{ table: string; columns: string[]; target: string; target_columns: string[]; on_delete: string }>(
      `SELECT t.relname AS table, r.relname AS target, c.confdeltype AS on_delete,
              array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
              array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord) AS target_columns
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE c.contype = 'f' AND n.nspname = current_schema()`,
    );
    for (const f of foreignKeys.rows) {
      const onDelete = ON_DELETE[f.on_delete] ?? f.on_delete;
      facts.add(`foreign key ${f.table}(${f.columns.join(', ')}) -> ${f.target}(${f.target_columns.join(', ')}) on delete ${onDelete}`);
    }
    return { tables, facts };
  } finally {
    await client.end();
  }
}

/** Every difference, as `missing in the database: …` / `not in schema.prisma: …`; empty when they agree. */
export function compareFacts(expected: SchemaFacts, actual: SchemaFacts): string[] {
  const problems: string[] = [];
  for (const t of expected.tables) if (!actual.tables.has(t)) problems.push(`missing in the database: table ${t}`);
  for (const t of actual.tables) if (!expected.tables.has(t)) problems.push(`not in schema.prisma: table ${t}`);
  for (const f of expected.facts) if (!actual.facts.has(f)) problems.push(`missing in the database: ${f}`);
  for (const f of actual.facts) if (!expected.facts.has(f)) problems.push(`not in schema.prisma: ${f}`);
  return problems.sort();
}

/** The drift between a schema.prisma text and a migrated database; empty when none. */
export async function checkDrift(prismaSchema: string, databaseUrl: string): Promise<string[]> {
  return compareFacts(expectedFacts(prismaSchema), await actualFacts(databaseUrl));
}

async function main(argv: string[]): Promise<number> {
  const schema = readFileSync(SCHEMA_PATH, 'utf8');
  const urlFlag = argv.indexOf('--url');
  let url = urlFlag >= 0 ? argv[urlFlag + 1] : undefined;
  let drop: (() => Promise<void>) | undefined;
  if (!url) {
    const { migrate } = await import('../src/db/migrate.js');
    const server = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
    const name = `distill_drift_${randomBytes(4).toString('hex')}`;
    server.pathname = '/postgres';
    const admin = new pg.Client({ connectionString: server.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    drop = async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    };
    server.pathname = `/${name}`;
    url = server.toString();
    await migrate(url);
  }
  try {
    const problems = await checkDrift(schema, url);
    for (const p of problems) console.log(p);
    console.log(problems.length ? `${problems.length} difference(s): write a migration` : 'schema.prisma and the migrations agree');
    return problems.length ? 1 : 0;
  } finally {
    await drop?.();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
