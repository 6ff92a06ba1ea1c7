// An OAuth 2.0 provider registered for a test as `kagiya oauth add` registers one: an `oauth2`
// credential row with the public settings and the client secret sealed.
import { OAUTH2_KIND, registrationSettings, type OAuthRegistration } from "../../src/kinds/oauth2/registration.ts";
import type { ChannelRegistry } from "../../src/store/registry.ts";

/** A registration by issuer discovery, client_secret_basic, `openid profile offline_access`; `over` changes fields. */
export function testRegistration(name: string, issuer: string, over: Partial<OAuthRegistration> = {}): OAuthRegistration {
  return {
    name, preset: undefined, issuer, discovery: true, authorizeUrl: undefined, tokenUrl: undefined, revokeUrl: undefined, userinfoUrl: undefined,
    clientId: "kagiya-web", authMethod: "client_secret_basic", scope: "openid profile offline_access", redirectUri: undefined,
    webRedirectUri: undefined, returnUrl: undefined, apiOrigins: [issuer], allowInsecure: false, authParams: {},
    ...over,
  };
}

/** Stores `reg` with its client secret, as `kagiya oauth add` does. */
export async function addRegistration(registry: ChannelRegistry, reg: OAuthRegistration, clientSecret: string): Promise<void> {
  await registry.add({ channelId: reg.name, kind: OAUTH2_KIND, kid: "", privateKey: { kty: "none", d: "" } as never, channelSecret: "", settings: registrationSettings(reg), secrets: { clientSecret } });
}
