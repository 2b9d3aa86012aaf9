/**
 * The part of Node's `node:sqlite` (stable enough since Node 22.13, where it needs no flag) that
 * the capture store uses. The project's @types/node is the 20.x line, which predates the module;
 * delete this file once @types/node is 22.13 or later.
 */
declare module 'node:sqlite' {
  type SQLInputValue = null | number | bigint | string | NodeJS.ArrayBufferView;
  type SQLOutputValue = null | number | bigint | string | Uint8Array;

  interface DatabaseSyncOptions {
    /** Open the database at construction (default true). */
    readonly open?: boolean;
    /** Open it read-only (default false). */
    readonly readOnly?: boolean;
    /** Enforce foreign keys (default true). */
    readonly enableForeignKeyConstraints?: boolean;
  }

  interface StatementResultingChanges {
    readonly changes: number | bigint;
    readonly lastInsertRowid: number | bigint;
  }

  class StatementSync {
    all(...parameters: SQLInputValue[]): Record<string, SQLOutputValue>[];
    get(...parameters: SQLInputValue[]): Record<string, SQLOutputValue> | undefined;
    run(...parameters: SQLInputValue[]): StatementResultingChanges;
  }

  class DatabaseSync {
    constructor(path: string, options?: DatabaseSyncOptions);
    close(): void;
    exec(sql: string): void;
    prepare(sql: string): StatementSync;
  }
}
