'use strict';
// The S3-compatible server of the test stack (tests/helpers.py Stack._start_s3):
//
//     node tools/s3/serve.js PORT DIRECTORY BUCKET ACCESS_KEY SECRET_KEY PARENT_PID
//
// s3rver (pinned in package.json) on 127.0.0.1:PORT, its objects under
// DIRECTORY (the stack's temporary directory), BUCKET made at start. Prints
// "ready" once it listens, so that the caller starts the stack after it, and
// exits with PARENT_PID (the test run), as tests/smtpsink.py does: a run
// killed with SIGKILL leaves no server behind.
//
// s3rver does not check SigV4 signatures (it takes any) and lets anonymous
// requests read and write: a store that forgave a wrong signature or a
// missing one could not fail a test. So every request passes the SigV4 check
// below first (Authorization header or presigned query, the secret given
// here, presigned expiry), as AWS S3 and MinIO would, and an unsigned one is
// refused: the bucket is private. The payload hash is taken as the client
// signed it, not compared with the body (the messenger signs
// UNSIGNED-PAYLOAD over TLS-less loopback; the body is not what is tested).
const crypto = require('crypto');
const http = require('http');
const S3rver = require('s3rver');
const AWSAccount = require('s3rver/lib/models/account');

const [port, directory, bucket, accessKey, secretKey, parent] = process.argv.slice(2);
if (!parent) {
	console.error('usage: node serve.js PORT DIRECTORY BUCKET ACCESS_KEY SECRET_KEY PARENT_PID');
	process.exit(2);
}
AWSAccount.DUMMY_ACCOUNT.createKeyPair(accessKey, secretKey);

const s3 = new S3rver({
	directory,
	// Its logger writes to stdout, which the caller stops reading after
	// "ready": a full pipe would stall the server. Requests are logged to
	// stderr below instead (the caller's s3server.log).
	silent: true,
	// Path-style only (http://HOST:PORT/BUCKET/KEY): the stack's
	// MSGR_STORAGE_URL says path_style=1, and 127.0.0.1 has no subdomains.
	vhostBuckets: false,
	configureBuckets: [{ name: bucket }],
});

// RFC 3986 unreserved characters stay, everything else is %XX (upper case):
// SigV4's UriEncode.
function uriEncode(s, keepSlash) {
	return Array.from(Buffer.from(s, 'utf8'))
		.map((b) => {
			const c = String.fromCharCode(b);
			if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) return c;
			return '%' + b.toString(16).toUpperCase().padStart(2, '0');
		})
		.join('');
}

function decode(s) {
	return decodeURIComponent(s.replace(/\+/g, '%20'));
}

const hmac = (key, data) => crypto.createHmac('sha256', key).update(data, 'utf8').digest();
const sha256 = (data) => crypto.createHash('sha256').update(data, 'utf8').digest('hex');

// Returns null when the request is signed right, else why not.
function checkSigV4(req) {
	const [rawPath, rawQuery = ''] = req.url.split('?', 2);
	const query = rawQuery
		.split('&')
		.filter((p) => p !== '')
		.map((p) => {
			const i = p.indexOf('=');
			return i < 0 ? [decode(p), ''] : [decode(p.slice(0, i)), decode(p.slice(i + 1))];
		});
	const q = Object.fromEntries(query);
	let credential, signedHeaders, signature, amzDate, payloadHash;
	const auth = req.headers.authorization;
	if (auth) {
		const m = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
		if (!m) return 'malformed Authorization';
		[, credential, signedHeaders, signature] = m;
		amzDate = req.headers['x-amz-date'];
		payloadHash = req.headers['x-amz-content-sha256'];
		if (!payloadHash) return 'no x-amz-content-sha256';
	} else if (q['X-Amz-Algorithm'] === 'AWS4-HMAC-SHA256') {
		credential = q['X-Amz-Credential'];
		signedHeaders = q['X-Amz-SignedHeaders'];
		signature = q['X-Amz-Signature'];
		amzDate = q['X-Amz-Date'];
		payloadHash = 'UNSIGNED-PAYLOAD';
		const expires = Number(q['X-Amz-Expires']);
		const t = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(amzDate || '');
		if (!t || !(expires >= 1 && expires <= 604800)) return 'bad X-Amz-Date or X-Amz-Expires';
		const start = Date.UTC(t[1], t[2] - 1, t[3], t[4], t[5], t[6]);
		if (Date.now() > start + expires * 1000) return 'presigned URL expired';
	} else {
		return 'unsigned request (the bucket is private)';
	}
	if (!credential || !signedHeaders || !signature || !amzDate) return 'incomplete signature';
	const scope = credential.split('/');
	if (scope.length !== 5 || scope[0] !== accessKey || scope[4] !== 'aws4_request')
		return 'unknown access key or bad scope';
	const canonicalQuery = query
		.filter(([k]) => k !== 'X-Amz-Signature')
		.map(([k, v]) => [uriEncode(k), uriEncode(v)])
		.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
		.map(([k, v]) => `${k}=${v}`)
		.join('&');
	const names = signedHeaders.split(';');
	if (!names.includes('host')) return 'host not signed';
	const canonicalHeaders = names
		.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`)
		.join('');
	const canonicalRequest = [
		req.method,
		uriEncode(decode(rawPath), true),
		canonicalQuery,
		canonicalHeaders,
		signedHeaders,
		payloadHash,
	].join('\n');
	const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope.slice(1).join('/'), sha256(canonicalRequest)].join('\n');
	let key = hmac('AWS4' + secretKey, scope[1]);
	for (const part of scope.slice(2)) key = hmac(key, part);
	const expected = hmac(key, stringToSign).toString('hex');
	if (expected !== signature) return `signature does not match; canonical request:\n${canonicalRequest}`;
	return null;
}

const handler = s3.callback();
const server = http.createServer((req, res) => {
	console.error(`${req.method} ${req.url}`);
	const why = checkSigV4(req);
	if (why) {
		console.error(`refused ${req.method} ${req.url}: ${why}`);
		res.writeHead(403, { 'Content-Type': 'application/xml' });
		res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>' +
			'<Message>The request signature we calculated does not match the signature you provided.</Message></Error>');
		return;
	}
	const suffix = /^bytes=-(\d+)$/.exec(req.headers.range || '');
	if (!suffix) return handler(req, res);
	// s3rver reads "bytes=-N" (the last N bytes, RFC 9110 14.1.1) as
	// "bytes=0-N"; S3 and MinIO do not. It is made an explicit range here.
	const [bucketName, ...rest] = decode(req.url.split('?')[0]).slice(1).split('/');
	s3.store.getMetadata(bucketName, rest.join('/')).then(
		(meta) => {
			const size = Number(meta['content-length']);
			const n = Math.min(Number(suffix[1]), size);
			if (n > 0) req.headers.range = `bytes=${size - n}-${size - 1}`;
			handler(req, res);
		},
		() => handler(req, res),
	);
});

// s3rver makes its configured buckets in run(), which would also listen
// unchecked: the bucket is made here and our server listens.
s3.configureBuckets().then(
	() => server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n')),
	(err) => {
		console.error(err);
		process.exit(1);
	},
);

setInterval(() => {
	try {
		process.kill(Number(parent), 0);
	} catch (e) {
		server.close(() => process.exit(0));
		setTimeout(() => process.exit(0), 2000).unref();
	}
}, 1000);
