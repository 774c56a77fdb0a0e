#!/usr/bin/python3
"""Keys and tokens for the auth tests, made with Debian's python3-jwt (PyJWT, the
library Orcheo issues its tokens with) and python3-cryptography.

  jwt_mint.py keys DIR   writes DIR/rsa.pem, DIR/ec.pem, DIR/rsa.pub.pem and
                         DIR/jwks.json (the public RSA and P-256 keys, kids
                         "rsa-1" and "ec-1")
  jwt_mint.py mint DIR   reads a JSON list of {alg, key, claims, headers?, tamper?}
                         on stdin, prints the JSON list of tokens. key is
                         "secret:<text>", "rsa" or "ec"; alg "none" makes an
                         unsigned token; "HS256-with-rsa-public" signs HMAC with
                         the RSA public key's PEM (the key-confusion attack PyJWT
                         itself refuses to make).
"""
import base64
import hashlib
import hmac
import json
import os
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_keys(d):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem = lambda k: k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    open(os.path.join(d, "rsa.pem"), "wb").write(pem(rsa_key))
    open(os.path.join(d, "ec.pem"), "wb").write(pem(ec_key))
    open(os.path.join(d, "rsa.pub.pem"), "wb").write(rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    rsa_jwk.update(kid="rsa-1", use="sig")
    ec_jwk.update(kid="ec-1", use="sig")
    json.dump({"keys": [rsa_jwk, ec_jwk]}, open(os.path.join(d, "jwks.json"), "w"))


def mint_one(d, spec):
    alg, key, claims = spec["alg"], spec["key"], spec["claims"]
    headers = spec.get("headers") or {}
    if alg == "HS256-with-rsa-public":
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", **headers}).encode())
        payload = b64url(json.dumps(claims).encode())
        secret = open(os.path.join(d, "rsa.pub.pem"), "rb").read()
        sig = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        token = f"{header}.{payload}.{b64url(sig)}"
    elif alg == "none":
        token = jwt.encode(claims, None, algorithm="none", headers=headers or None)
    else:
        if key.startswith("secret:"):
            k = key[len("secret:"):]
        else:
            k = open(os.path.join(d, key + ".pem"), "rb").read()
        token = jwt.encode(claims, k, algorithm=alg, headers=headers or None)
    if spec.get("tamper"):  # flip a bit of the signature's first byte
        head, payload, sig = token.split(".")
        raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
        raw[0] ^= 1
        token = f"{head}.{payload}.{b64url(bytes(raw))}"
    return token


def main():
    if sys.argv[1] == "keys":
        make_keys(sys.argv[2])
    else:
        specs = json.load(sys.stdin)
        print(json.dumps([mint_one(sys.argv[2], s) for s in specs]))


main()
