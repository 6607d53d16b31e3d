"""The stock x402 Python client (PyPI `x402` 2.25.0 with its `evm` and `clients` extras) buys one
proved inference: the reference package unchanged, but for the spend controls every buyer sets
for a token its client does not know (a local chain's USDC).

Usage: python3 buy.py URL INPUT.json, with BUYER_KEY (0x hex), NETWORK (eip155:N) and ASSET (the
token) in the environment. Prints one JSON line: the status, the body and the PAYMENT-RESPONSE
header as received.
"""

import asyncio
import json
import os
import sys

from eth_account import Account
from x402 import SchemeRegistration, x402ClientConfig
from x402.http.clients import wrapHttpxWithPaymentFromConfig
from x402.mechanisms.evm import EthAccountSigner
from x402.mechanisms.evm.exact import ExactEvmScheme


async def buy(url: str, input_path: str) -> None:
    network, asset = os.environ["NETWORK"], os.environ["ASSET"]
    signer = EthAccountSigner(Account.from_key(os.environ["BUYER_KEY"]))
    config = x402ClientConfig(
        schemes=[SchemeRegistration(network=network, client=ExactEvmScheme(signer=signer))],
        spend_controls={"allowed_assets": [{"network": network, "asset": asset}]},
    )
    with open(input_path, encoding="utf-8") as f:
        body = f.read()
    # Proving takes a while: more than httpx's default five seconds.
    async with wrapHttpxWithPaymentFromConfig(config, timeout=300) as client:
        r = await client.post(url, content=body, headers={"content-type": "application/json"})
    print(json.dumps({"status": r.status_code, "body": r.text, "paymentResponse": r.headers.get("PAYMENT-RESPONSE")}))


asyncio.run(buy(sys.argv[1], sys.argv[2]))
