// The stock x402 TypeScript client (@x402/fetch + @x402/evm, pinned in package.json) buys one
// proved inference: the reference packages unchanged, but for the spend controls every buyer sets
// for a token its client does not know (a local chain's USDC).
// Usage: node buy.mjs URL INPUT.json, with BUYER_KEY (0x hex), NETWORK (eip155:N) and ASSET (the
// token) in the environment. Prints one JSON line: the status, the body and the PAYMENT-RESPONSE
// header as received.
import { readFileSync } from "node:fs";
import { wrapFetchWithPaymentFromConfig } from "@x402/fetch";
import { ExactEvmScheme } from "@x402/evm";
import { privateKeyToAccount } from "viem/accounts";

const [url, inputPath] = process.argv.slice(2);
const { BUYER_KEY, NETWORK, ASSET } = process.env;
const pay = wrapFetchWithPaymentFromConfig(fetch, {
  schemes: [{ network: NETWORK, client: new ExactEvmScheme(privateKeyToAccount(BUYER_KEY)) }],
  spendControls: { allowedAssets: [{ network: NETWORK, asset: ASSET }] },
});
const response = await pay(url, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: readFileSync(inputPath, "utf8"),
});
console.log(JSON.stringify({
  status: response.status,
  body: await response.text(),
  paymentResponse: response.headers.get("PAYMENT-RESPONSE"),
}));
