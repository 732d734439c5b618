/** Tests that read ../shared are guarded on the files they read, and say which one is absent. */
import { describe, expect, it } from 'vitest';
import { needShared } from './cli.js';

describe('needShared', () => {
  it('skips with the name of the first absent file', () => {
    const g = needShared('README.md/not-a-file.json', 'also/missing.json');
    expect(g.skip).toBe(true);
    expect(g.title('t')).toMatch(
      /^t — (skipped: \.\.\/shared\/README\.md\/not-a-file\.json is absent \(and 1 more of its files\)|\.\.\/shared is absent \(a user clone\); reference-data tests are skipped)$/,
    );
  });
  it('runs when nothing is asked for', () => {
    expect(needShared()).toMatchObject({ skip: false, reason: '' });
    expect(needShared().title('t')).toBe('t');
  });
});
