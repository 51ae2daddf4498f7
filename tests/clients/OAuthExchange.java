/*
 * A GitHub OAuth code-for-token exchange the way Java apps write it, for
 * tests/integration/test_runtime_java.py. Nothing here names a proxy or
 * a trust store: JAVA_TOOL_OPTIONS (oauthlens --env) carries both.
 *
 *   java OAuthExchange MODE URL FORM
 *     MODE  httpclient           HttpClient.newHttpClient() (stock)
 *           httpclient-selector  HttpClient.newBuilder()
 *                                .proxy(ProxySelector.getDefault())
 *           urlconnection        HttpURLConnection
 *           get                  a stock HttpClient GET of URL (FORM
 *                                unused), for the loopback bypass
 *     FORM  the application/x-www-form-urlencoded body
 *
 * Prints one JSON object: status, headers [[name, value]...], body_b64,
 * error (the exception, or null).
 */
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.ProxySelector;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

public class OAuthExchange {
	static int status = -1;
	static List<String[]> headers = new ArrayList<>();
	static byte[] body = new byte[0];

	static void viaHttpClient(HttpClient c, String url, String form)
	    throws Exception {
		HttpRequest r = HttpRequest.newBuilder(URI.create(url))
		    .header("Accept", "application/json")
		    .header("Content-Type", "application/x-www-form-urlencoded")
		    .POST(HttpRequest.BodyPublishers.ofString(form)).build();
		HttpResponse<byte[]> res = c.send(r,
		    HttpResponse.BodyHandlers.ofByteArray());
		status = res.statusCode();
		res.headers().map().forEach((k, vs) -> vs.forEach(
		    v -> headers.add(new String[] { k, v })));
		body = res.body();
	}

	static void viaURLConnection(String url, String form)
	    throws Exception {
		HttpURLConnection u =
		    (HttpURLConnection)new URL(url).openConnection();
		u.setRequestMethod("POST");
		u.setDoOutput(true);
		u.setRequestProperty("Accept", "application/json");
		u.setRequestProperty("Content-Type",
		    "application/x-www-form-urlencoded");
		try (OutputStream o = u.getOutputStream()) {
			o.write(form.getBytes(StandardCharsets.UTF_8));
		}
		status = u.getResponseCode();
		for (Map.Entry<String, List<String>> e :
		    u.getHeaderFields().entrySet()) {
			String k = e.getKey();

			if (k != null)
				for (String v : e.getValue())
					headers.add(new String[] { k, v });
		}
		InputStream in = status >= 400 ? u.getErrorStream() :
		    u.getInputStream();
		body = in == null ? new byte[0] : in.readAllBytes();
	}

	static String q(String s) {
		StringBuilder b = new StringBuilder("\"");
		for (char ch : s.toCharArray()) {
			if (ch == '"' || ch == '\\')
				b.append('\\').append(ch);
			else if (ch < 0x20 || ch > 0x7e)
				b.append(String.format("\\u%04x", (int)ch));
			else
				b.append(ch);
		}
		return b.append('"').toString();
	}

	static void get(String url) throws Exception {
		HttpResponse<byte[]> res = HttpClient.newHttpClient().send(
		    HttpRequest.newBuilder(URI.create(url)).build(),
		    HttpResponse.BodyHandlers.ofByteArray());
		status = res.statusCode();
		body = res.body();
	}

	static void run(String mode, String url, String form)
	    throws Exception {
		if (mode.equals("httpclient"))
			viaHttpClient(HttpClient.newHttpClient(), url, form);
		else if (mode.equals("httpclient-selector"))
			viaHttpClient(HttpClient.newBuilder()
			    .proxy(ProxySelector.getDefault()).build(), url,
			    form);
		else if (mode.equals("get"))
			get(url);
		else
			viaURLConnection(url, form);
	}

	public static void main(String[] a) {
		String err = null;

		try {
			run(a[0], a[1], a[2]);
		} catch (Exception e) {
			err = e.toString();
		}
		StringBuilder o = new StringBuilder("{\"status\": " + status +
		    ", \"headers\": [");
		for (int i = 0; i < headers.size(); i++)
			o.append(i > 0 ? ", " : "").append("[")
			    .append(q(headers.get(i)[0])).append(", ")
			    .append(q(headers.get(i)[1])).append("]");
		o.append("], \"body_b64\": ")
		    .append(q(Base64.getEncoder().encodeToString(body)))
		    .append(", \"error\": ")
		    .append(err == null ? "null" : q(err)).append("}");
		System.out.println(o);
	}
}
