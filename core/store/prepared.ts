import type { CompiledQuery, Compilable } from 'kysely';
import type { Dialect, Sql, StoreDatabase } from './sql.js';

/**
 * A named parameter of a prepared query, as the build function sees it: `p('runId')` stands for the
 * value given as `runId` at each execution. Typed as the value's own type so that the query builder
 * accepts it wherever that value would go.
 */
export type Params<P> = <K extends keyof P & string>(name: K) => P[K];

/** What stands in a query for a named parameter while it is built and compiled (found again by identity). */
class Placeholder {
  constructor(readonly name: string) {
    Object.freeze(this);
  }
}

/** A query compiled for one dialect, with the positions of its named parameters in `parameters`. */
interface Compiled {
  readonly query: CompiledQuery;
  /** The compiled parameters: fixed values (constants of the query) and placeholders. */
  readonly template: readonly unknown[];
  /** [position in `parameters`, parameter name] for each placeholder. */
  readonly slots: readonly (readonly [number, string])[];
}

/**
 * A query of fixed shape, built and compiled once per dialect and then executed with new values: a
 * hot path (a run's start, its journal, the audit append) pays neither the query builder nor the
 * compiler on every call, only binding and the database itself. Executed through the store's ambient
 * `db`, so it runs inside the open transaction when there is one, like any builder query.
 *
 * What it cannot say: a query whose shape depends on the values (an IN list of varying length, an
 * optional filter, `= null` that the builder would turn into `is null`): keep those on the builder.
 * A value given as `undefined` is bound as NULL.
 */
export class PreparedQuery<P extends Record<string, unknown>, R> {
  private readonly compiled = new Map<Dialect, Compiled>();

  constructor(private readonly build: (db: Sql, p: Params<P>) => Compilable<R>) {}

  /**
   * The query compiled for the store's dialect (built on first use).
   * @throws Error when a use of a named parameter does not appear in the compiled parameters exactly
   *   once (the builder transformed it, wrapped it in another value, or copied it).
   */
  private compiledFor(store: StoreDatabase): Compiled {
    const known = this.compiled.get(store.dialect);
    if (known) return known;
    // Each use of p() is its own placeholder (a name may be used more than once), and each must be
    // found exactly once among the compiled parameters: missing means the builder transformed it or
    // wrapped it in another value, twice means it copied it; either way its position is unknown.
    const placeholders: Placeholder[] = [];
    const p = ((name: string) => {
      const placeholder = new Placeholder(name);
      placeholders.push(placeholder);
      return placeholder;
    }) as Params<P>;
    const query = this.build(store.db, p).compile();
    const slots: [number, string][] = [];
    query.parameters.forEach((value, position) => {
      if (value instanceof Placeholder) slots.push([position, value.name]);
    });
    for (const placeholder of placeholders) {
      const found = query.parameters.filter((value) => value === placeholder).length;
      if (found !== 1) {
        throw new Error(`prepared query: parameter "${placeholder.name}" appears ${found} times in the compiled parameters of \`${query.sql}\` (it must be a plain value the builder binds once as it is; keep this query on the builder)`);
      }
    }
    const compiled: Compiled = { query, template: query.parameters, slots };
    this.compiled.set(store.dialect, compiled);
    return compiled;
  }

  /** The compiled query with `values` bound, for the store's dialect. */
  bind(store: StoreDatabase, values: P): CompiledQuery<R> {
    const { query, template, slots } = this.compiledFor(store);
    const parameters = template.slice();
    for (const [position, name] of slots) parameters[position] = values[name] ?? null;
    return { ...query, parameters } as CompiledQuery<R>;
  }

  /** The query with `values` bound, as an object shaped like a builder's (for callers and tests that compile or execute it). */
  with(store: StoreDatabase, values: P): { compile: () => CompiledQuery<R>; execute: () => Promise<R[]>; executeTakeFirst: () => Promise<R | undefined> } {
    return { compile: () => this.bind(store, values), execute: () => this.execute(store, values), executeTakeFirst: () => this.executeTakeFirst(store, values) };
  }

  /** Executes with `values` in the store's ambient transaction (or on its own); returns the rows. */
  async execute(store: StoreDatabase, values: P): Promise<R[]> {
    return (await store.db.executeQuery(this.bind(store, values))).rows;
  }

  /** Executes and returns the first row, if any. */
  async executeTakeFirst(store: StoreDatabase, values: P): Promise<R | undefined> {
    return (await store.db.executeQuery(this.bind(store, values))).rows[0];
  }

  /** Executes a write and returns the number of rows it inserted, updated or deleted. */
  async run(store: StoreDatabase, values: P): Promise<number> {
    return Number((await store.db.executeQuery(this.bind(store, values))).numAffectedRows ?? 0);
  }
}

/**
 * Declares a query compiled once and executed many times with named parameters:
 * `preparedQuery((db, p: Params<{ id: string }>) => db.selectFrom('runs').selectAll().where('id', '=', p('id')))`,
 * then `await q.executeTakeFirst(store, { id })`. See PreparedQuery for what it cannot say.
 */
export function preparedQuery<P extends Record<string, unknown>, R>(build: (db: Sql, p: Params<P>) => Compilable<R>): PreparedQuery<P, R> {
  return new PreparedQuery(build);
}
