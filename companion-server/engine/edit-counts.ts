/** The most variations one edit may ask for: each is a UNet batch of 3 more at every step. */
export const MAX_VARIATIONS = 8;
/** The most instructions one chain may hold: each step is a whole edit. */
export const MAX_CHAIN_STEPS = 8;
