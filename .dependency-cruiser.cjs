// The import rules of docs/architecture.md ("Layers"), checked by `npm run lint:boundaries`.
// A file imports files of its own folder or of lower layers only; type-only imports count too.

/** src/ folders bottom to top; folders on one line share a layer and do not import each other. */
const LAYERS = [['core'], ['config'], ['clickhouse', 'state', 'iceberg'], ['mapping', 'dev'], ['pipeline'], ['verify'], ['drill'], ['ui'], ['commands']];

const folder = (name) => `^src/${name}/`;
const anyOf = (names) => `^src/(${names.join('|')})/`;

// One rule per layer: nothing above it, and (within the layer) no other folder of it.
const upTheLayers = LAYERS.flatMap((names, i) => {
  const higher = LAYERS.slice(i + 1).flat();
  return names.map((name) => ({
    name: 'no-import-up-the-layers',
    comment: `src/${name}/ is layer ${i}: it may import ${
      i === 0 ? 'only its own folder' : `its own folder and ${LAYERS.slice(0, i).flat().join(', ')}`
    } (docs/architecture.md, Layers)`,
    severity: 'error',
    from: { path: folder(name) },
    to: { path: [anyOf([...higher, ...names.filter((n) => n !== name)]), '^src/cli\\.ts$'] },
  }));
});

module.exports = {
  forbidden: [
    ...upTheLayers,
    {
      name: 'sources-state-and-table-format-apart',
      comment: 'clickhouse/, state/ and iceberg/ never import each other: the pipeline joins them (docs/architecture.md)',
      severity: 'error',
      from: { path: '^src/(clickhouse|state|iceberg)/' },
      to: { path: '^src/(clickhouse|state|iceberg)/', pathNot: '^src/$1/' },
    },
    {
      name: 'commands-and-ui-through-the-pipeline',
      comment: 'commands/ and ui/ reach data through pipeline, verify and drill functions, never clickhouse/, state/ or iceberg/',
      severity: 'error',
      from: { path: '^src/(commands|ui)/' },
      to: { path: '^src/(clickhouse|state|iceberg)/' },
    },
    {
      name: 'no-test-code-in-src',
      comment: 'src/ is what ships (dist/): tests and their helpers live in test/',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-test-files-in-src',
      comment: 'test files live in test/, mirroring src/ (docs/architecture.md)',
      severity: 'error',
      from: { path: '^src/.+\\.test\\.tsx?$' },
      to: {},
    },
    {
      name: 'no-dev-dependencies-in-src',
      comment: 'src/ ships without devDependencies (test libraries, the compiler, the linters)',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-cycles',
      comment: 'a cycle makes two files one unit that neither can be read or tested without the other',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.check.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
    skipAnalysisNotInRules: true,
    reporterOptions: { text: { highlightFocused: true } },
  },
};
