/**
 * The command table. Each entry registers one subcommand on the program; `setExit` records the exit
 * code the command wants (0 ok, 1 run failures, 2 usage/spec errors).
 */
import type { Command } from 'commander';
import type { CliIo } from '../io.js';

export type RegisterCommand = (program: Command, io: CliIo, setExit: (code: number) => void) => void;

export const COMMANDS: RegisterCommand[] = [];
