// Prettier formats the code (`npm run format`; `npm run lint` checks it). The options are the
// ones the code was already written in: two spaces, double quotes, semicolons, trailing commas
// (Prettier's defaults), and lines of up to 160 columns, which is what most of src/ already
// follows (of the widths from 80 to 200, 160 changes the fewest lines without joining
// hand-wrapped code into very long lines). Comments are not rewrapped: they stay at about 100.
/** @type {import("prettier").Config} */
export default {
  printWidth: 160,
  tabWidth: 2,
  useTabs: false,
  semi: true,
  singleQuote: false,
  trailingComma: "all",
};
