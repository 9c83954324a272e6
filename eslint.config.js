// One lint config for the tree: ESLint's and typescript-eslint's recommended rules, Svelte's for .svelte files.
// Layout and spacing are Prettier's (`prettier --check` in `npm run lint`), so no stylistic rules here.
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';

export default ts.config(
  { ignores: ['node_modules/', 'out/', 'dist/', 'test/screenshots/', 'bench/results/', 'bench/gpu/carry/', '**/*.d.ts'] },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_name` marks a value left out on purpose (destructuring a field away, an unused callback argument).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // Non-null assertions follow checks the compiler cannot see (noUncheckedIndexedAccess); they are reviewed, not banned.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Tests and fixtures cast through unknown to build partial records on purpose.
      '@typescript-eslint/no-explicit-any': 'warn',
      // Control characters in regexes are what the name checks look for.
      'no-control-regex': 'off',
      // State here replaces whole Maps and Sets held in $state.raw (copy, change, assign): plain ones are right.
      'svelte/prefer-svelte-reactivity': 'off',
    },
  },
  {
    files: ['src-renderer/src/**/*.{ts,svelte}', 'src-shared/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: ts.parser, extraFileExtensions: ['.svelte'] } },
  },
);
