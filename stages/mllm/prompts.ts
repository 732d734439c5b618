/**
 * Built-in prompt templates, used when a spec names no prompt file. `{text}` is the modification text;
 * the reference image is attached to the message. The template's sha256 is part of the stage key, so
 * editing a prompt file re-runs exactly the MLLM stages that use it.
 */
export const DEFAULT_COMPOSE_PROMPT = `You are given a reference image and a modification request.
Describe the target image: the reference image after applying the modification.
Modification: {text}
Answer with one short sentence describing only the target image.`;

export const DEFAULT_CAPTION_PROMPT = `Describe this image in one short sentence.`;
