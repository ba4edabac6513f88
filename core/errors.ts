/**
 * Typed errors. Each keeps its cause and carries the exit code the CLI uses, so that no caller
 * has to parse a message to know what went wrong.
 */
export abstract class PatchbayError extends Error {
  abstract readonly code: string;
  /** 2: the input was wrong; 1: something failed while doing the work. */
  readonly exitCode: number = 1;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A file, request or flag is not what it must be; `where` names the file and the JSON pointer. */
export class InvalidInputError extends PatchbayError {
  readonly code = 'invalid-input';
  override readonly exitCode = 2;

  constructor(
    readonly where: { file?: string; pointer?: string },
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${formatWhere(where)}${reason}`, options);
  }
}

/** Something asked for by name (a connector, a playbook, a runbook) does not exist. */
export class NotFoundError extends PatchbayError {
  readonly code = 'not-found';
  override readonly exitCode = 2;

  constructor(
    readonly kind: string,
    readonly id: string,
    readonly known: readonly string[] = [],
    /** What else the reader should know, after the known names (e.g. catalogue entries that could not be loaded). */
    readonly also?: string,
  ) {
    super(`unknown ${kind} '${id}'${known.length ? ` (known: ${known.join(', ')})` : ''}${also ? `; ${also}` : ''}`);
  }
}

/** The connectors do not fit together: a manifest routes to a channel nothing can serve. */
export class ConnectorWiringError extends PatchbayError {
  readonly code = 'connector-wiring';
  override readonly exitCode = 2;

  constructor(
    readonly connector: string,
    message: string,
  ) {
    super(`connector '${connector}': ${message}`);
  }
}

/** A broken connector's reason without the "connector '<id>': " its wiring errors start with, to follow words that name it already. */
export function brokenBecause(reason: string): string {
  return reason.replace(/^connector '[^']+': /, '');
}

/** A generated file differs from what its generator writes now. */
export class StaleGeneratedFileError extends PatchbayError {
  readonly code = 'stale-generated-file';

  constructor(readonly files: readonly string[], command: string) {
    super(`generated files are stale: ${files.join(', ')} (run ${command})`);
  }
}

function formatWhere(where: { file?: string; pointer?: string }): string {
  if (!where.file && where.pointer === undefined) return '';
  const pointer = where.pointer === undefined ? '' : `#${where.pointer}`;
  return `${where.file ?? ''}${pointer}: `;
}

/** A connector's settings cannot work (a missing token, a malformed base URL); says which setting. */
export class ConnectorConfigError extends PatchbayError {
  readonly code = 'connector-config';
  override readonly exitCode = 2;

  constructor(
    readonly connector: string,
    readonly setting: string,
    reason: string,
  ) {
    super(`${connector}: ${setting}: ${reason}`);
  }
}

/**
 * The person keeps the app through a group after their own assignment is gone (Entra ID: an app role
 * assigned to a group; Google Workspace: a group nested in the app's group). Removing the group's
 * assignment would take the app from everyone in it, so the step goes to a person, whose runbook says
 * to take them out of the group.
 */
export class StillAssignedError extends PatchbayError {
  readonly code = 'still-assigned';
}

/**
 * A read that was to find one person's account cannot say which record is theirs: several records
 * carry the person's email (`ambiguous`), or the record read carries another email (`another-person`).
 * Nothing is written on such a read: the step goes to a person, with this reason.
 */
export class AccountIdentityError extends PatchbayError {
  readonly code = 'account-identity';

  constructor(
    readonly connector: string,
    readonly kind: 'ambiguous' | 'another-person',
    message: string,
  ) {
    super(`${connector}: ${message}`);
  }
}
