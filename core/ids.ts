import { z } from 'zod';

/** Ids that appear in MQTT topics and URLs: no `/`, `+`, `#`, spaces or control characters. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const idSchema = z.string().regex(ID_PATTERN, 'letters, digits, "_", "-" or ".", 1–64 characters, starting with a letter or digit');
