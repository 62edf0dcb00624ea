"""A loopback stand-in for ECR Public's GetAuthorizationToken (moto has no ECR Public).

It speaks the service's wire format: awsJson1.1, `X-Amz-Target:
SpencerFrontendService.GetAuthorizationToken`, a SigV4 signature for service
`ecr-public`; it answers `{"authorizationData": {"authorizationToken":
base64("AWS:<password>"), "expiresAt": <epoch seconds>}}`. Every call's target, content
type and credential scope are appended to DIR/calls.log as JSON lines. The integration
test checks the stand-in against boto3's own ecr-public client before trusting it.

Usage: ecr_public.py --password PW --dir DIR   (writes DIR/port when listening)
"""

import argparse
import base64
import http.server
import json
import os
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--password", required=True)
    p.add_argument("--dir", required=True)
    args = p.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, status, doc):
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            if status != 200:
                self.send_header("X-Amzn-ErrorType", doc["__type"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = self.headers.get("X-Amz-Target", "")
            auth = self.headers.get("Authorization", "")
            scope = auth.split("Credential=")[1].split(",")[0].split("/") if "Credential=" in auth else []
            with open(os.path.join(args.dir, "calls.log"), "a") as f:
                f.write(json.dumps({
                    "target": target,
                    "content_type": self.headers.get("Content-Type"),
                    "key": scope[0] if scope else None,
                    "region": scope[2] if len(scope) > 2 else None,
                    "service": scope[3] if len(scope) > 3 else None,
                    "body": body.decode() or None,
                }) + "\n")
            if not scope or scope[3] != "ecr-public":
                return self.reply(403, {"__type": "InvalidSignatureException", "message": "not signed for ecr-public"})
            if target != "SpencerFrontendService.GetAuthorizationToken":
                return self.reply(400, {"__type": "UnknownOperationException", "message": target})
            token = base64.b64encode(f"AWS:{args.password}".encode()).decode()
            self.reply(200, {"authorizationData": {"authorizationToken": token, "expiresAt": int(time.time()) + 12 * 3600}})

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = os.path.join(args.dir, "port")
    with open(port + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port + ".tmp", port)
    server.serve_forever()


if __name__ == "__main__":
    main()
