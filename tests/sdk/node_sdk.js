// Belvo's Node SDK (npm `belvo`), making the calls its README and Belvo's quickstart show, against the
// API at BELVO_API_URL. Run by tests/sdk/test_belvo_sdks.py, which reads the JSON this prints (one
// object: each call's answer, or the error it raised) and asserts on it.
"use strict";

const Client = require("belvo").default;

const env = process.env;

async function call(results, name, fn) {
  try {
    results[name] = { ok: await fn() };
  } catch (error) {
    results[name] = { error: { status: error.statusCode ?? null, detail: error.detail ?? String(error) } };
  }
}

async function main() {
  const client = new Client(env.SECRET_ID, env.SECRET_PASSWORD, env.BELVO_API_URL);
  const results = {};
  const link = env.LINK_ID;
  await call(results, "connect", () => client.connect().then(() => true));
  await call(results, "institutions", () => client.institutions.list());
  await call(results, "widget_token", () => client.widgetToken.create());
  await call(results, "ofda_widget_token", () =>
    client.widgetToken.create({ scopes: env.OFDA_SCOPES, widget: JSON.parse(env.OFDA_WIDGET) }),
  );
  await call(results, "links", () => client.links.list());
  await call(results, "link", () => client.links.detail(link));
  await call(results, "accounts", () => client.accounts.list({ filters: { link } }));
  await call(results, "accounts_retrieved", () => client.accounts.retrieve(link));
  await call(results, "owners", () => client.owners.list({ filters: { link } }));
  await call(results, "owners_retrieved", () => client.owners.retrieve(link));
  await call(results, "transactions", () => client.transactions.list({ filters: { link } }));
  await call(results, "transactions_retrieved", () =>
    client.transactions.retrieve(link, env.DATE_FROM, { dateTo: env.DATE_TO }),
  );
  await call(results, "link_deleted", () => client.links.delete(env.DELETE_LINK_ID).then(() => true));
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
