/**
 * kagiya: the credential lifecycle of a LINE bot backend.
 * Public library API; each area is documented in its own module.
 */
export { KagiyaError, InvalidInputError, KeyError, JwsFormatError } from "./core/errors.ts";
