<?php
/*
 * A GitHub OAuth code-for-token exchange the way PHP apps write it, for
 * tests/integration/test_runtime_php.py. No CA option anywhere: the
 * curl.cainfo / openssl.cafile settings come from the ini file oauthlens
 * writes (PHP_INI_SCAN_DIR=:<certs>/php, from oauthlens --env).
 *
 *   php exchange.php MODE URL FORM
 *     MODE  curl    the curl extension (what Guzzle, Socialite and
 *                   league/oauth2-client use); libcurl reads HTTPS_PROXY
 *           stream  file_get_contents with a stream context whose proxy
 *                   is HTTPS_PROXY as tcp://host:port (PHP's streams read
 *                   no proxy variable: the README says so)
 *
 * Prints one JSON object: status, headers [[name, value]...], body_b64,
 * error.
 */
[$mode, $url, $form] = array_slice($argv, 1, 3);
$status = -1;
$headers = [];
$body = '';
$error = null;

function add_header_line(&$headers, $line)
{
	$line = rtrim($line, "\r\n");
	if (strpos($line, ':') !== false && strncmp($line, 'HTTP/', 5) !== 0) {
		[$n, $v] = explode(':', $line, 2);
		$headers[] = [$n, trim($v)];
	}
}

if ($mode === 'curl') {
	$c = curl_init($url);
	curl_setopt_array($c, [
		CURLOPT_POST => true,
		CURLOPT_POSTFIELDS => $form,
		CURLOPT_HTTPHEADER => ['Accept: application/json'],
		CURLOPT_RETURNTRANSFER => true,
		CURLOPT_TIMEOUT => 30,
		CURLOPT_HEADERFUNCTION => function ($c, $line) use (&$headers) {
			if (strncmp($line, 'HTTP/', 5) === 0)
				$headers = [];	/* the CONNECT's 200 came first */
			add_header_line($headers, $line);
			return strlen($line);
		},
	]);
	$body = curl_exec($c);
	if ($body === false) {
		$error = curl_errno($c) . ': ' . curl_error($c);
		$body = '';
	}
	$status = curl_getinfo($c, CURLINFO_RESPONSE_CODE);
	curl_close($c);
} else {
	$proxy = getenv('HTTPS_PROXY') ?: getenv('https_proxy');
	$opts = ['http' => [
		'method' => 'POST',
		'header' => "Accept: application/json\r\n" .
		    "Content-Type: application/x-www-form-urlencoded\r\n",
		'content' => $form,
		'ignore_errors' => true,
		'timeout' => 30,
	]];
	if ($proxy)
		$opts['http']['proxy'] = preg_replace('#^https?://#', 'tcp://',
		    rtrim($proxy, '/'));
	$body = @file_get_contents($url, false, stream_context_create($opts));
	if ($body === false) {
		$e = error_get_last();
		$error = $e ? $e['message'] : 'file_get_contents failed';
		$body = '';
	}
	foreach ($http_response_header ?? [] as $line) {
		if (preg_match('#^HTTP/\S+ (\d+)#', $line, $m)) {
			$status = (int)$m[1];
			$headers = [];
		}
		add_header_line($headers, $line);
	}
}
echo json_encode(['status' => $status, 'headers' => $headers,
    'body_b64' => base64_encode($body), 'error' => $error]), "\n";
