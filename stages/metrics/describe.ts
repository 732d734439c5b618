/** Human names used in messages and tables ("the CIRR val gallery", "Fashion-IQ dress val"). */
import type { DatasetName } from '../contracts.js';
import type { LoadedDataset } from '../datasets/types.js';

const DISPLAY: Record<DatasetName, string> = {
  cirr: 'CIRR',
  circo: 'CIRCO',
  fashioniq: 'Fashion-IQ',
  genecis: 'GeneCIS',
  synthetic: 'synthetic',
};

/** "CIRR val", "Fashion-IQ dress val", "GeneCIS focus_object". */
export function datasetLabel(d: { dataset: DatasetName; split: string; subset: string | null }): string {
  const name = DISPLAY[d.dataset];
  if (d.dataset === 'genecis') return `${name} ${d.subset}`;
  return d.subset === null ? `${name} ${d.split}` : `${name} ${d.subset} ${d.split}`;
}

/** How the query keys of `--rankings` are formed, for messages. */
export function queryKeyKind(d: Pick<LoadedDataset, 'dataset'>): string {
  switch (d.dataset) {
    case 'cirr':
      return 'pairid';
    case 'circo':
      return 'query id';
    default:
      return 'row index';
  }
}

/** The column order a score matrix must follow, for messages. */
export function galleryOrder(d: LoadedDataset): string {
  switch (d.dataset) {
    case 'cirr':
      return 'split-file key order';
    case 'fashioniq':
      return 'split array order';
    case 'circo':
      return d.warnings.some((w) => w.includes('listing')) ? 'sorted image-folder order' : 'image-info order';
    case 'genecis':
      return '[target] + gallery';
  }
}
