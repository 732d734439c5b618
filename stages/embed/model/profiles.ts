/**
 * Built-in retrieval-model profiles: the preprocessing, tokenizer and I/O contract of each checkpoint
 * the paper uses, so a model folder only needs the exported files. Values follow the checkpoints' own
 * processors (open_clip `pretrained.py` per-checkpoint mean/std; HF processor configs); see the
 * README section "Built-in profiles".
 */
import type { EmbedModelConfig } from './config.js';

const OPENAI_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
const HALF: [number, number, number] = [0.5, 0.5, 0.5];

/**
 * The folder layout `stages/embed/export_onnx.py` writes (file and tensor names) and the safe defaults
 * every model starts from, with or without a profile.
 */
export const FOLDER_DEFAULTS = {
  image_size: 224,
  exif_transpose: false,
  text_model: 'text_model.onnx',
  vision_model: 'vision_model.onnx',
  text_input: 'input_ids',
  text_output: 'text_embeds',
  vision_input: 'pixel_values',
  vision_output: 'image_embeds',
  clip_vocab: 'bpe_simple_vocab_16e6.txt.gz',
  hf_tokenizer: 'tokenizer.json',
  eos_token: '<eos>',
  pad_id: 0,
  text_clean: 'lower',
} as const;

/** Fields shared by every profile. */
const COMMON = FOLDER_DEFAULTS;

const CLIP_LIKE = {
  ...COMMON,
  resize: 'shortest',
  interpolation: 'bicubic',
  context_length: 77,
  tokenizer: 'clip-bpe',
} as const;

function openclip(name: string, checkpoint: string, dim: number, half = false): EmbedModelConfig {
  return {
    ...CLIP_LIKE,
    profile: name,
    checkpoint,
    family: 'openclip',
    // open_clip evaluates with torchvision's CenterCrop (rounded offsets) and its own special-token names.
    crop: 'torchvision',
    special_tokens: 'openclip',
    mean: half ? HALF : OPENAI_MEAN,
    std: half ? HALF : OPENAI_STD,
    embed_dim: dim,
  };
}

export const PROFILES: Readonly<Record<string, EmbedModelConfig>> = {
  'clip-vit-b-32': {
    ...CLIP_LIKE,
    profile: 'clip-vit-b-32',
    checkpoint: 'openai/clip-vit-base-patch32',
    family: 'clip',
    crop: 'hf',
    special_tokens: 'openai',
    mean: OPENAI_MEAN,
    std: OPENAI_STD,
    embed_dim: 512,
  },
  'openclip-vit-b-32': openclip('openclip-vit-b-32', 'ViT-B-32/laion2b_s34b_b79k', 512),
  // laion2b_s32b_b82k is the one L/14 LAION checkpoint trained with INCEPTION mean/std (0.5).
  'openclip-vit-l-14': openclip('openclip-vit-l-14', 'ViT-L-14/laion2b_s32b_b82k', 768, true),
  'openclip-vit-h-14': openclip('openclip-vit-h-14', 'ViT-H-14/laion2b_s32b_b79k', 1024),
  'openclip-vit-g-14': openclip('openclip-vit-g-14', 'ViT-g-14/laion2b_s34b_b88k', 1024),
  'openclip-vit-bigg-14': openclip('openclip-vit-bigg-14', 'ViT-bigG-14/laion2b_s39b_b160k', 1280),
  'siglip2-base-patch16-224': {
    ...COMMON,
    profile: 'siglip2-base-patch16-224',
    checkpoint: 'google/siglip2-base-patch16-224',
    family: 'siglip2',
    // HF SiglipImageProcessor: squash to 224×224 with PIL bilinear (resample=2), no crop.
    resize: 'squash',
    crop: 'hf',
    interpolation: 'bilinear',
    mean: HALF,
    std: HALF,
    context_length: 64,
    tokenizer: 'hf',
    special_tokens: 'openai',
    embed_dim: 768,
  },
};

export const PROFILE_NAMES = Object.keys(PROFILES);

/**
 * Parameters of each built-in profile's checkpoint (image + text towers), in millions, for ordering
 * backbones by size in scaling plots. OpenCLIP and CLIP: open_clip's model table; SigLIP2: the model card.
 * Kept beside the profiles rather than in them, so model configs (and the keys that hash them) stay as
 * they are.
 */
export const PARAMETER_COUNTS_M: Readonly<Record<string, number>> = {
  'clip-vit-b-32': 151.28,
  'openclip-vit-b-32': 151.28,
  'openclip-vit-l-14': 427.62,
  'openclip-vit-h-14': 986.11,
  'openclip-vit-g-14': 1366.68,
  'openclip-vit-bigg-14': 2539.57,
  'siglip2-base-patch16-224': 375.19,
};
