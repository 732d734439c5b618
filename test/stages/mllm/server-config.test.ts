/** `mllm.server` at plan time: command words, placeholders, defaults that pin the paper's settings, group ids. */
import { describe, expect, it } from 'vitest';
import type { MllmSpec } from '../../../runner/spec/types.js';
import {
  displayCommand,
  fillCommand,
  type ServerConfig,
  serverConfigOf,
  serverGroupId,
  splitCommand,
} from '../../../stages/mllm/server-config.js';

const MODEL = 'Qwen/Qwen2.5-VL-7B-Instruct';

function cfg(m: Partial<MllmSpec>): ServerConfig {
  const c = serverConfigOf({ backend: 'vllm', model: MODEL, server: {}, ...m } as MllmSpec);
  if (typeof c === 'string') throw new Error(c);
  return c;
}

describe('splitCommand', () => {
  it('splits on blanks and honours quotes and escapes as a shell does', () => {
    expect(splitCommand(`vllm serve {model}  --port {port} --limit-mm-per-prompt '{"image":1}'`)).toEqual([
      'vllm',
      'serve',
      '{model}',
      '--port',
      '{port}',
      '--limit-mm-per-prompt',
      '{"image":1}',
    ]);
    expect(splitCommand(`a "b c" d\\ e "x\\"y" ''`)).toEqual(['a', 'b c', 'd e', 'x"y', '']);
    expect(splitCommand(`a 'b`)).toBe("unclosed ' quote");
  });
});

describe('fillCommand', () => {
  it('fills the known placeholders and leaves other brace text (JSON flag values) alone', () => {
    expect(
      fillCommand(['serve', '{model}', '--port={port}', '{"image":1,"video":0}', '{unknown}'], {
        model: 'm',
        port: '8001',
      }),
    ).toEqual(['serve', 'm', '--port=8001', '{"image":1,"video":0}', '{unknown}']);
  });
});

describe('serverConfigOf', () => {
  it('vllm by default pins the sampling source, dtype, seed, one image per prompt, loopback', () => {
    const c = cfg({});
    expect(c.command.join(' ')).toBe(
      'vllm serve {model} --host {host} --port {port} --tensor-parallel-size {gpus_per_server} --dtype bfloat16 --seed 0 --generation-config vllm --limit-mm-per-prompt {"image":1,"video":0} --max-model-len 8192',
    );
    expect(c).toMatchObject({ gpus_per_server: 1, max_servers: null, port: null, max_restarts: 3 });
    expect(displayCommand(c)).toBe(
      `vllm serve ${MODEL} --host 127.0.0.1 --port {port} --tensor-parallel-size 1 --dtype bfloat16 --seed 0 --generation-config vllm --limit-mm-per-prompt '{"image":1,"video":0}' --max-model-len 8192`,
    );
  });

  it('a revision is passed to the default commands; args are appended; env kept', () => {
    const c = cfg({
      revision: 'abc123',
      server: { args: ['--gpu-memory-utilization', '0.8'], env: { X: '1' } },
    });
    expect(c.command.slice(-4)).toEqual(['--revision', '{revision}', '--gpu-memory-utilization', '0.8']);
    expect(c.env).toEqual({ X: '1' });
  });

  it('sglang has its own default; a written command replaces the default; ollama needs one', () => {
    expect(cfg({ backend: 'sglang' }).command).toContain('--sampling-defaults');
    expect(cfg({ server: { command: 'my-server --model {model} --port {port}' } }).command).toEqual([
      'my-server',
      '--model',
      '{model}',
      '--port',
      '{port}',
    ]);
    expect(serverConfigOf({ backend: 'ollama', model: 'qwen2.5vl:7b', server: {} })).toBe(
      'no default command for backend "ollama"',
    );
  });

  it('one group id per configuration: the same for equal blocks, another when anything differs', () => {
    expect(serverGroupId(cfg({}))).toBe(serverGroupId(cfg({ server: {} })));
    expect(serverGroupId(cfg({}))).toMatch(
      /^pefuse-started vllm:Qwen\/Qwen2\.5-VL-7B-Instruct #[0-9a-f]{10}$/,
    );
    expect(serverGroupId(cfg({}))).not.toBe(serverGroupId(cfg({ server: { gpus_per_server: 2 } })));
    expect(serverGroupId(cfg({}))).not.toBe(serverGroupId(cfg({ model: 'Qwen/Qwen2.5-VL-3B-Instruct' })));
  });
});
