// A word as the shell reads it, for the commands the hook and the CLI suggest to admins.

/** The word, single-quoted only when the shell needs it. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_.:@%+=,/-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
