/**
 * The attribute world of the synthetic CIR benchmark: one flat-coloured object per image, described by
 * four attributes. Every (shape, colour, size, background) combination appears at most once in a
 * gallery, so a modification applied to a reference names exactly one ground-truth target, while the
 * images sharing three of the four attributes act as distractors.
 */

export const SHAPES = ['circle', 'square', 'triangle', 'star', 'hexagon', 'cross'] as const;
export type Shape = (typeof SHAPES)[number];

/** Object colours: eight well-separated hues, none of them a background word. */
export const COLOURS = {
  red: [220, 38, 38],
  orange: [245, 140, 20],
  yellow: [240, 208, 20],
  green: [34, 160, 60],
  cyan: [20, 200, 215],
  blue: [40, 80, 225],
  purple: [150, 50, 220],
  pink: [250, 100, 180],
} as const satisfies Record<string, readonly [number, number, number]>;
export type Colour = keyof typeof COLOURS;
export const COLOUR_NAMES = Object.keys(COLOURS) as Colour[];

/** Sizes as the radius of the object's circumscribed circle, as a fraction of the image side. */
export const SIZES = { small: 0.16, medium: 0.25, large: 0.35 } as const;
export type Size = keyof typeof SIZES;
export const SIZE_NAMES = Object.keys(SIZES) as Size[];

export const BACKGROUNDS = {
  light: [238, 234, 226],
  dark: [28, 31, 38],
  grey: [125, 130, 136],
} as const satisfies Record<string, readonly [number, number, number]>;
export type Background = keyof typeof BACKGROUNDS;
export const BACKGROUND_NAMES = Object.keys(BACKGROUNDS) as Background[];

/** What an image shows (the identity of a gallery item). */
export interface Attributes {
  shape: Shape;
  colour: Colour;
  size: Size;
  background: Background;
}

/** Where the object sits: nuisance variation that is not part of the identity. Pixels of IMAGE_SIZE. */
export interface Placement {
  cx: number;
  cy: number;
  /** Degrees. */
  rotation: number;
}

/** Side of every rendered image, in pixels. */
export const IMAGE_SIZE = 128;

/** The ground-truth ("oracle") caption of an image. The dummy captioner starts from it. */
export function captionOf(a: Partial<Attributes>): string {
  const words = ['a', a.size, a.colour, a.shape ?? 'object'].filter((w): w is string => w !== undefined);
  let text = words.join(' ');
  if (a.background !== undefined) text += ` on a ${a.background} background`;
  return text;
}

/** A stable key for a combination, e.g. `star/blue/large/dark`. */
export function comboKey(a: Attributes): string {
  return `${a.shape}/${a.colour}/${a.size}/${a.background}`;
}

/** Every combination, in a fixed order. */
export function allCombos(): Attributes[] {
  const out: Attributes[] = [];
  for (const shape of SHAPES)
    for (const colour of COLOUR_NAMES)
      for (const size of SIZE_NAMES)
        for (const background of BACKGROUND_NAMES) out.push({ shape, colour, size, background });
  return out;
}

export function rgbHex(rgb: readonly number[]): string {
  return `#${rgb
    .map((v) =>
      Math.max(0, Math.min(255, Math.round(v)))
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}
