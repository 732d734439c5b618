/**
 * The command table. Each entry registers one subcommand on the program; `setExit` records the exit
 * code the command wants (0 ok, 1 run failures, 2 usage/spec errors).
 */
import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { registerDoctor } from './doctor.js';
import { registerEvaluate } from './evaluate.js';
import { registerExplain } from './explain.js';
import { registerExport } from './export.js';
import { registerGc } from './gc.js';
import { registerPlan } from './plan.js';
import { registerReport } from './report.js';
import { registerRun } from './run.js';
import { registerShard } from './shard.js';
import { registerStatus } from './status.js';
import { registerTokenize } from './tokenize.js';
import { registerValidate } from './validate.js';

export type RegisterCommand = (program: Command, io: CliIo, setExit: (code: number) => void) => void;

export const COMMANDS: RegisterCommand[] = [
  registerValidate,
  registerPlan,
  registerRun,
  registerExplain,
  registerEvaluate,
  registerExport,
  registerStatus,
  registerReport,
  registerGc,
  registerTokenize,
  registerDoctor,
  // Hidden (`pefuse __shard`): the unit shard executors start; not listed in --help.
  registerShard,
];
