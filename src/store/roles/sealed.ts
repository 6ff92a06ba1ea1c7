/** A sealed secret as stored: `v1.<keyVersion>.<nonce b64url>.<ciphertext+tag b64url>`. */
export type Sealed = string;
