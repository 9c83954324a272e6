import { UsageError } from '../../common/errors.ts';
import { resolveHome } from '../../common/home.ts';
import { didYouMean, numberFlag, parseFlags } from '../args.ts';
import { DatasetStore } from '../../datasets/dataset-store.ts';
import { CIFAR10_URL, CIFAR10_URL_ENV, downloadCifar10 } from '../../datasets/download-cifar10.ts';
import { importFolder } from '../../datasets/import-folder.ts';
import { RESERVED_IDS } from '../../datasets/dataset-id.ts';
import { resolveDatasetRef } from '../../datasets/dataset-lookup.ts';
import { assertDatasetUnused } from '../../app/dataset-usage.ts';
import { RunStore } from '../../runs/run-store.ts';
import { cancellableJob } from '../progress-line.ts';
import { formatBytes, formatInt } from '../format.ts';
import { PHOTO_IMAGE_SIZE, PHOTO_MIN_SIDE, SMALL_IMAGE_SIZE } from '../../datasets/image-size.ts';
import { BACKBONE_MAX_SIZE, BACKBONE_MIN_SIZE, storageNote } from '../../../src-shared/dataset-size.ts';
import { backboneForImport } from '../../training/backbone-source.ts';

const USAGE = `Usage:
  kiln dataset download cifar10 [--url URL | --file PATH] [--sha256 HEX | --md5 HEX] [--json]   (170 MB)
  kiln dataset import <folder> [--name NAME] [--size N | --for imagenet:NAME] [--val-split 0.1] [--seed N] [--pad] [--json]
  kiln dataset list [--json]
  kiln dataset show <id|name> [--json]
  kiln dataset rm <id|name> [--force] [--json]   (--force: even if runs used it)
  kiln dataset rename <id|name> <new-name> [--json]

Options:
  --home DIR   where datasets live (default: $KILN_HOME or the app's user-data folder)
  --url URL    download from this address instead of ${CIFAR10_URL}
               ($${CIFAR10_URL_ENV} sets a mirror for every download)
  --file PATH  use a cifar-10-binary.tar.gz already on disk (nothing is downloaded)
  --sha256 HEX, --md5 HEX  the checksum to verify; without one, the official tarball's md5 is expected
               from the default address, a mirror and --file, and a --url download is not verified
  --size N     side of the stored square images in pixels; default from the images' resolution:
               ${PHOTO_IMAGE_SIZE} for photos (median short side ≥ ${PHOTO_MIN_SIDE} px), ${SMALL_IMAGE_SIZE} for small images;
               pretrained backbones see ${BACKBONE_MIN_SIZE}–${BACKBONE_MAX_SIZE} px (at 224 px an image takes 150 kB, on disk and in memory)
  --for imagenet:NAME
               store the images at that backbone's input size (224 px for resnet18, resnet50,
               mobilenetv2; kiln backbone list), unless --size says otherwise
  --pad        fit whole images inside the square with black bars instead of centre-cropping`;

const common = { home: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(USAGE);
    return 0;
  }
  switch (sub) {
    case 'download':
      return download(rest);
    case 'import':
      return importCmd(rest);
    case 'list':
    case 'ls':
      return list(rest);
    case 'show':
      return show(rest);
    case 'rm':
    case 'remove':
      return remove(rest);
    case 'rename':
      return rename(rest);
    default:
      throw new UsageError(
        `unknown dataset command "${sub}"; expected one of: download, import, list, show, rm, rename${didYouMean(sub, ['download', 'import', 'list', 'show', 'rm', 'rename'])}`,
      );
  }
}

function positionals(got: string[], names: string[]): string[] {
  if (got.length !== names.length) {
    throw new UsageError(
      `expected ${names.map((n) => `<${n}>`).join(' ') || 'no arguments'}, got ${got.length === 0 ? 'none' : got.map((g) => `"${g}"`).join(' ')}`,
    );
  }
  return got;
}

async function download(argv: string[]): Promise<number> {
  const { values, positionals: pos } = parseFlags(argv, {
    ...common,
    url: { type: 'string' },
    file: { type: 'string' },
    sha256: { type: 'string' },
    md5: { type: 'string' },
  });
  if (values.help) return (console.log(USAGE), 0);
  const [which] = positionals(pos, ['dataset']);
  if (which.toLowerCase() !== 'cifar10' && which.toLowerCase() !== 'cifar-10') {
    throw new UsageError(`cannot download "${which}": the only downloadable dataset is cifar10`);
  }
  const store = new DatasetStore(resolveHome(values.home));
  return cancellableJob(async (bar, signal) => {
    const s = await downloadCifar10(
      store,
      { url: values.url, file: values.file, sha256: values.sha256, md5: values.md5 },
      (e) => bar.download(e),
      signal,
    );
    bar.clear();
    if (values.json) {
      console.log(
        JSON.stringify({
          id: s.id,
          name: s.name,
          imageSize: s.imageSize,
          classes: s.classes,
          train: s.train,
          val: s.val,
          bytes: s.bytes,
          resumedFrom: s.resumedFrom,
          retries: s.retries,
          checksum: s.checksum,
          warnings: s.warnings,
        }),
      );
    } else {
      for (const w of s.warnings) console.error(`warning: ${w}`);
      const resumed = s.resumedFrom > 0 || s.retries > 0 ? `, resumed ${s.retries + (s.resumedFrom > 0 ? 1 : 0)} time(s)` : '';
      console.log(
        `${values.file ? 'Read' : 'Downloaded'} ${s.name} as "${s.id}": ${s.classes.length} classes, ${formatInt(s.train)} training and ${formatInt(s.val)} validation (test) images at ${s.imageSize}×${s.imageSize}.`,
      );
      console.log(
        `${formatBytes(s.bytes)} in ${s.seconds.toFixed(1)} s${resumed}; checksum ${s.checksum ? `${s.checksum.algorithm} ok` : 'not checked'}.`,
      );
    }
    return 0;
  });
}

async function importCmd(argv: string[]): Promise<number> {
  const { values, positionals: pos } = parseFlags(argv, {
    ...common,
    name: { type: 'string' },
    size: { type: 'string' },
    'val-split': { type: 'string' },
    seed: { type: 'string' },
    pad: { type: 'boolean' },
    for: { type: 'string' },
  });
  if (values.help) return (console.log(USAGE), 0);
  const [folder] = positionals(pos, ['folder']);
  const forBackbone = values.for !== undefined ? backboneForImport(values.for) : undefined;
  const store = new DatasetStore(resolveHome(values.home));
  return cancellableJob(async (bar, signal) => {
    const s = await importFolder(
      store,
      {
        folder,
        name: values.name,
        size: numberFlag('size', values.size, { int: true, min: 4, max: 1024 }),
        valSplit: numberFlag('val-split', values['val-split'], { min: 0, max: 0.99 }),
        seed: numberFlag('seed', values.seed, { int: true }),
        fit: values.pad ? 'pad' : 'crop',
        ...(forBackbone ? { forBackbone } : {}),
      },
      (e) => {
        // Said before decoding starts, so a wrong guess can be stopped (Ctrl-C) and rerun with --size.
        if (e.phase === 'scan' && e.imageSize !== undefined && !values.json) {
          bar.clear();
          const from =
            e.medianShortSide != null ? `the images' median short side is ${e.medianShortSide} px` : 'no image header could be read';
          console.error(
            e.sizeChosen === 'auto'
              ? `Image size ${e.imageSize}×${e.imageSize}: ${e.imageSize === PHOTO_IMAGE_SIZE ? 'photos' : 'small images'} (${from}); change it with --size N.`
              : e.sizeChosen === 'backbone'
                ? `Image size ${e.imageSize}×${e.imageSize}: ${e.sizeReason} (${from}); change it with --size N.`
                : `Image size ${e.imageSize}×${e.imageSize} (--size; ${from}).`,
          );
          console.error(`${storageNote(e.files, e.imageSize)}.`);
        }
        bar.import(e);
      },
      signal,
    );
    bar.clear();
    if (values.json) {
      console.log(
        JSON.stringify({
          id: s.id,
          name: s.name,
          imageSize: s.imageSize,
          sizeChosen: s.sizeChosen,
          bytes: s.bytes,
          medianShortSide: s.medianShortSide,
          classes: s.classes,
          train: s.train,
          val: s.val,
          skipped: s.skipped,
          warnings: s.warnings,
        }),
      );
      return 0;
    }
    for (const w of s.warnings) console.error(`warning: ${w}`);
    if (s.skipped.length > 0) {
      console.error(`skipped ${s.skipped.length} file(s):`);
      for (const k of s.skipped.slice(0, 20)) console.error(`  ${k.path}: ${k.reason}`);
      if (s.skipped.length > 20) console.error(`  … and ${s.skipped.length - 20} more (use --json for all)`);
    }
    console.log(
      `Imported "${s.name}" as "${s.id}": ${s.classes.length} classes, ${formatInt(s.train)} training and ${formatInt(s.val)} validation images at ${s.imageSize}×${s.imageSize} (${s.layout}).`,
    );
    const total = s.train + s.val + s.skipped.length;
    console.log(
      `Decoded ${formatInt(total)} files in ${s.seconds.toFixed(1)} s (${s.imagesPerSecond.toFixed(0)} images/s); the images take ${formatBytes(s.bytes)} on disk, and as much in memory while a run trains.`,
    );
    return 0;
  });
}

async function list(argv: string[]): Promise<number> {
  const { values, positionals: pos } = parseFlags(argv, common);
  if (values.help) return (console.log(USAGE), 0);
  positionals(pos, []);
  const store = new DatasetStore(resolveHome(values.home));
  const all = await store.list();
  if (values.json) {
    const builtIn = [...RESERVED_IDS].map((id) => ({ id, name: id, builtIn: true }));
    console.log(JSON.stringify([...builtIn, ...all.map((m) => ({ ...m, builtIn: false }))]));
    return 0;
  }
  const rows = [
    ['ID', 'NAME', 'SIZE', 'CLASSES', 'TRAIN', 'VAL', 'CREATED'],
    ...[...RESERVED_IDS].map((id) => [id, '(built-in, generated on the fly)', '', '', '', '', '']),
    ...all.map((m) => [
      m.id,
      m.name,
      `${m.imageSize}×${m.imageSize}`,
      String(m.classes.length),
      formatInt(m.counts.train),
      formatInt(m.counts.val),
      m.createdAt.slice(0, 16).replace('T', ' '),
    ]),
  ];
  console.log(table(rows));
  if (all.length === 0)
    console.log(`\nNo datasets in ${store.root} yet: try \`kiln dataset download cifar10\` or \`kiln dataset import <folder>\`.`);
  return 0;
}

async function show(argv: string[]): Promise<number> {
  const { values, positionals: pos } = parseFlags(argv, common);
  if (values.help) return (console.log(USAGE), 0);
  const [ref] = positionals(pos, ['id']);
  const store = new DatasetStore(resolveHome(values.home));
  const m = await store.get(await resolveDatasetRef(store, ref));
  if (values.json) {
    console.log(JSON.stringify(m));
    return 0;
  }
  const src =
    m.source.kind === 'cifar10'
      ? `download ${m.source.url}`
      : `folder ${m.source.path} (${m.source.layout}${m.source.valSplit !== null ? `, val-split ${m.source.valSplit}, seed ${m.source.seed}` : ''}, ${m.source.fit})`;
  console.log(`${m.name} (${m.id})`);
  console.log(`  source:  ${src}`);
  console.log(`  images:  ${formatInt(m.counts.train)} train, ${formatInt(m.counts.val)} val, ${m.imageSize}×${m.imageSize} RGB`);
  console.log(`  mean:    ${m.mean.map((v) => v.toFixed(4)).join(', ')}`);
  console.log(`  std:     ${m.std.map((v) => v.toFixed(4)).join(', ')}`);
  console.log(`  created: ${m.createdAt}`);
  console.log('');
  console.log(
    table([['CLASS', 'TRAIN', 'VAL'], ...m.classes.map((c, i) => [c, formatInt(m.classCounts.train[i]), formatInt(m.classCounts.val[i])])]),
  );
  return 0;
}

async function remove(argv: string[]): Promise<number> {
  const { values, positionals: pos } = parseFlags(argv, { ...common, force: { type: 'boolean' } });
  if (values.help) return (console.log(USAGE), 0);
  const [ref] = positionals(pos, ['id']);
  if (RESERVED_IDS.has(ref)) throw new UsageError(`"${ref}" is built in and cannot be removed`);
  const home = resolveHome(values.home);
  const store = new DatasetStore(home);
  const id = await resolveDatasetRef(store, ref);
  if (!values.force) await assertDatasetUnused(new RunStore(home), id, `add --force to delete it anyway`);
  await store.remove(id);
  console.log(values.json ? JSON.stringify({ removed: id }) : `Removed dataset "${id}".`);
  return 0;
}

async function rename(argv: string[]): Promise<number> {
  const { values, positionals: pos } = parseFlags(argv, common);
  if (values.help) return (console.log(USAGE), 0);
  const [ref, name] = positionals(pos, ['id', 'name']);
  if (RESERVED_IDS.has(ref)) throw new UsageError(`"${ref}" is built in and cannot be renamed`);
  const store = new DatasetStore(resolveHome(values.home));
  const id = await resolveDatasetRef(store, ref);
  const m = await store.rename(id, name);
  console.log(values.json ? JSON.stringify({ id: m.id, name: m.name }) : `Renamed dataset "${id}" to "${m.name}".`);
  return 0;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_c, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i] - [...c].length)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
