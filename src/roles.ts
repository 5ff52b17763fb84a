import { Overrides } from './config';
import { OpsServer } from './http/ops-server';

/** A long-running part of the pipeline (a consumer group or the API). */
export interface Role {
  readonly name: string;
  start(): Promise<void>;
  /** Stop fetching, finish the batch in hand, commit, release connections. */
  stop(): Promise<void>;
}

export interface RoleContext {
  overrides: Overrides;
  ops: OpsServer;
}

/** Builds a role; the composition root (app/roles.ts) hands it what it needs from other roles. */
export type RoleFactory = (ctx: RoleContext) => Role | Promise<Role>;
