// SPDX-License-Identifier: BSD-3-Clause
//
// FaultProxy (tests/shared) between QNetworkAccessManager, or a raw socket where the exact bytes
// matter, and an in-process fake upstream that counts and records what reaches it.

#include "faultproxy.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QHash>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QRandomGenerator>
#include <QtCore/QUrlQuery>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>
#include <QtNetwork/QTcpServer>
#include <QtNetwork/QTcpSocket>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <algorithm>
#include <iterator>
#include <memory>

using SynqTest::FaultProxy;

namespace {

constexpr int WaitMs = 30000;
constexpr qsizetype OneMiB = 1024 * 1024;

// Reproducible bytes covering every byte value (NUL, CR, LF included).
QByteArray pattern(qsizetype size, quint32 seed = 7)
{
    QRandomGenerator random(seed);
    QByteArray bytes(size, Qt::Uninitialized);
    for (qsizetype i = 0; i < size; ++i)
        bytes[i] = char(random.bounded(256));
    return bytes;
}

// The chunked coding the fake sends: uneven chunk sizes, a chunk extension and a trailer.
QByteArray chunkedCoding(const QByteArray &payload)
{
    static const qsizetype sizes[] = { 1, 7, 4096, 65536, 100000, 3 };
    QByteArray out;
    qsizetype pos = 0;
    for (int i = 0; pos < payload.size(); ++i) {
        const qsizetype n = std::min(sizes[i % std::size(sizes)], payload.size() - pos);
        out += QByteArray::number(n, 16);
        if (i == 0)
            out += ";note=first";
        out += "\r\n" + payload.mid(pos, n) + "\r\n";
        pos += n;
    }
    return out + "0\r\nX-Trailer: yes\r\n\r\n";
}

QByteArray healthBody()
{
    return QByteArrayLiteral("{\"status\":\"ok\",\"protocol\":1}");
}

QByteArray closeDelimitedBody()
{
    return QByteArrayLiteral("{\"closeDelimited\":true}");
}

QByteArray injectedBody(const QByteArray &code)
{
    return "{\"error\":{\"code\":\"" + code
            + "\",\"message\":\"injected\",\"retryable\":true}}";
}

// A small HTTP/1.1 server: keep-alive unless asked to close, Content-Length request bodies.
//   GET  /v1/health, /v1/changes...  JSON          POST /v1/push  JSON
//   POST /echo         the request body back      GET  /chunked?size=N  chunked pattern(N)
//   GET  /close        body ended by closing      GET  /nocontent  204
//   GET  /hang         no answer at all           GET  /garbage    not HTTP, then closed
// Every response carries X-Request-Number (1, 2, ...) and X-Upstream.
class FakeUpstream : public QObject
{
    Q_OBJECT

public:
    struct Request
    {
        QByteArray method;
        QByteArray target;
        QByteArray head;
        QByteArray body;
    };

    FakeUpstream() : m_server(new QTcpServer(this))
    {
        connect(m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server->nextPendingConnection()) {
                ++connections;
                socket->setParent(this);
                connect(socket, &QTcpSocket::readyRead, this, [this, socket] { read(socket); });
                connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
            }
        });
    }

    bool listen() { return m_server->listen(QHostAddress::LocalHost, 0); }

    QUrl url() const
    {
        return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_server->serverPort()));
    }

    QList<Request> requests;
    int connections = 0;

private:
    void read(QTcpSocket *socket)
    {
        QByteArray &buffer = m_buffers[socket];
        buffer += socket->readAll();
        for (;;) {
            const qsizetype headEnd = buffer.indexOf("\r\n\r\n");
            if (headEnd < 0)
                return;
            Request request;
            request.head = buffer.left(headEnd + 4);
            qsizetype length = 0;
            const QByteArrayList lines = request.head.split('\n');
            for (const QByteArray &line : lines) {
                if (line.toLower().startsWith("content-length:"))
                    length = line.mid(15).trimmed().toLongLong();
            }
            if (buffer.size() < headEnd + 4 + length)
                return;
            const QByteArrayList requestLine = lines.first().trimmed().split(' ');
            request.method = requestLine.value(0);
            request.target = requestLine.value(1);
            request.body = buffer.mid(headEnd + 4, length);
            buffer.remove(0, headEnd + 4 + length);
            requests.append(request);

            if (request.target == "/hang")
                continue; // never answered
            if (request.target == "/garbage") {
                socket->write("SPDY/9 nonsense\r\n\r\n");
                socket->disconnectFromHost();
                return;
            }
            bool close = request.head.toLower().contains("\r\nconnection: close\r\n");
            socket->write(respond(request, &close));
            if (close) {
                m_buffers.remove(socket);
                socket->disconnectFromHost();
                return;
            }
        }
    }

    QByteArray respond(const Request &request, bool *close)
    {
        const QUrl url(QString::fromLatin1(request.target));
        const QString path = url.path();
        int status = 200;
        QByteArray type = "application/json";
        QByteArray body;
        bool chunked = false;
        bool closeDelimited = false;
        if (path == QLatin1String("/v1/health")) {
            body = healthBody();
        } else if (path == QLatin1String("/v1/changes")) {
            body = "{\"changes\":[],\"cursor\":\"v1:0\",\"hasMore\":false}";
        } else if (path == QLatin1String("/v1/push") && request.method == "POST") {
            body = "{\"results\":[]}";
        } else if (path == QLatin1String("/echo") && request.method == "POST") {
            type = "application/octet-stream";
            body = request.body;
        } else if (path == QLatin1String("/chunked")) {
            type = "application/octet-stream";
            const int size = QUrlQuery(url).queryItemValue(QStringLiteral("size")).toInt();
            body = chunkedCoding(pattern(size));
            chunked = true;
        } else if (path == QLatin1String("/close")) {
            body = closeDelimitedBody();
            closeDelimited = true;
        } else if (path == QLatin1String("/nocontent")) {
            status = 204;
        } else {
            status = 404;
            body = "{\"error\":{\"code\":\"not-found\",\"message\":\"no route\","
                   "\"retryable\":false}}";
        }

        QByteArray out = "HTTP/1.1 " + QByteArray::number(status)
                + (status == 200 ? " OK" : status == 204 ? " No Content" : " Not Found")
                + "\r\nX-Upstream: yes\r\nX-Request-Number: "
                + QByteArray::number(requests.size()) + "\r\n";
        if (status != 204)
            out += "Content-Type: " + type + "\r\n";
        if (chunked)
            out += "Transfer-Encoding: chunked\r\n";
        else if (!closeDelimited && status != 204)
            out += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
        if (closeDelimited || *close)
            out += "Connection: close\r\n";
        *close = *close || closeDelimited;
        return out + "\r\n" + body;
    }

    QTcpServer *m_server;
    QHash<QTcpSocket *, QByteArray> m_buffers;
};

struct Result
{
    bool finished = false;
    QNetworkReply::NetworkError error = QNetworkReply::NoError;
    int status = 0;
    QByteArray body;
    QHash<QByteArray, QByteArray> headers; // lower-case names
};

} // namespace

class tst_FaultProxy : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void listensOnLoopback();
    void forwardsRequests_data();
    void forwardsRequests();
    void forwardsTheHeadUnchanged();
    void keepsClientConnectionsAlive();
    void closeDelimitedResponseEndsTheClientConnection();
    void relaysChunkedCodingAndPipelinedRequestsAsIs();
    void answersExpectContinueItself();
    void injectsErrorResponses_data();
    void injectsErrorResponses();
    void clientSeesANetworkError_data();
    void clientSeesANetworkError();
    void rawClientSeesTheConnectionEnd_data();
    void rawClientSeesTheConnectionEnd();
    void delayHoldsTheResponse();
    void duplicateSendsTheRequestTwice();
    void oneShotsAreUsedInOrder();
    void pathFilterLimitsFaults();
    void probabilisticFaultsFollowTheSeed_data();
    void probabilisticFaultsFollowTheSeed();
    void differentSeedsGiveDifferentSequences();
    void probabilityOneFaultsEveryMatchingRequest();
    void upstreamFailuresGive502_data();
    void upstreamFailuresGive502();
    void destructorClosesEverything();

private:
    Result send(const QByteArray &method, const QString &path, const QByteArray &body = {},
                const QList<QPair<QByteArray, QByteArray>> &headers = {});
    QList<FaultProxy::Fault> runSequence(quint32 seed, int requests);

    std::unique_ptr<FakeUpstream> m_upstream;
    std::unique_ptr<FaultProxy> m_proxy;
    std::unique_ptr<QNetworkAccessManager> m_nam;
};

Result tst_FaultProxy::send(const QByteArray &method, const QString &path, const QByteArray &body,
                            const QList<QPair<QByteArray, QByteArray>> &headers)
{
    QUrl url = m_proxy->url();
    const qsizetype query = path.indexOf(QLatin1Char('?'));
    url.setPath(query < 0 ? path : path.left(query));
    if (query >= 0)
        url.setQuery(path.mid(query + 1));
    QNetworkRequest request(url);
    request.setTransferTimeout(WaitMs);
    for (const auto &header : headers)
        request.setRawHeader(header.first, header.second);
    QNetworkReply *reply = nullptr;
    if (method == "GET") {
        reply = m_nam->get(request);
    } else {
        request.setHeader(QNetworkRequest::ContentTypeHeader,
                          QByteArrayLiteral("application/octet-stream"));
        reply = m_nam->sendCustomRequest(request, method, body);
    }
    QSignalSpy finished(reply, &QNetworkReply::finished);
    Result result;
    result.finished = reply->isFinished() || finished.wait(WaitMs + 5000);
    result.error = reply->error();
    result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    result.body = reply->readAll();
    for (const auto &pair : reply->rawHeaderPairs())
        result.headers.insert(pair.first.toLower(), pair.second);
    delete reply;
    return result;
}

void tst_FaultProxy::init()
{
    m_upstream = std::make_unique<FakeUpstream>();
    QVERIFY(m_upstream->listen());
    m_proxy = std::make_unique<FaultProxy>(m_upstream->url());
    QVERIFY2(m_proxy->listen(), qPrintable(m_proxy->errorString()));
    m_nam = std::make_unique<QNetworkAccessManager>();
}

void tst_FaultProxy::cleanup()
{
    m_nam.reset();
    m_proxy.reset();
    m_upstream.reset();
}

void tst_FaultProxy::listensOnLoopback()
{
    QVERIFY(m_proxy->isListening());
    QVERIFY(m_proxy->port() != 0);
    QCOMPARE(m_proxy->url(), QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_proxy->port())));
    QCOMPARE(m_proxy->target(), m_upstream->url());
    QCOMPARE(m_proxy->connectionsAccepted(), 0);
    QCOMPARE(m_proxy->requestsSeen(), 0);
}

void tst_FaultProxy::forwardsRequests_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("requestBody");
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("responseBody");

    const QByteArray small = QByteArrayLiteral("{\"a\":\"\xc3\xa9\\r\\n\",\"b\":[1,2,3]}\r\n");
    const QByteArray big = pattern(OneMiB, 11);
    QTest::newRow("a GET is answered by the upstream")
            << QByteArray("GET") << QStringLiteral("/v1/health") << QByteArray() << 200
            << healthBody();
    QTest::newRow("a GET with a query reaches the upstream with it")
            << QByteArray("GET") << QStringLiteral("/v1/changes?collection=todos&since=v1%3A4")
            << QByteArray() << 200
            << QByteArray("{\"changes\":[],\"cursor\":\"v1:0\",\"hasMore\":false}");
    QTest::newRow("a POST body goes up and comes back byte for byte")
            << QByteArray("POST") << QStringLiteral("/echo") << small << 200 << small;
    QTest::newRow("a 1 MiB POST body goes up and comes back byte for byte")
            << QByteArray("POST") << QStringLiteral("/echo") << big << 200 << big;
    QTest::newRow("a small chunked response arrives whole")
            << QByteArray("GET") << QStringLiteral("/chunked?size=20") << QByteArray() << 200
            << pattern(20);
    QTest::newRow("a 1 MiB chunked response arrives byte for byte")
            << QByteArray("GET") << QStringLiteral("/chunked?size=1048576") << QByteArray() << 200
            << pattern(OneMiB);
    QTest::newRow("a 204 response has no body")
            << QByteArray("GET") << QStringLiteral("/nocontent") << QByteArray() << 204
            << QByteArray();
    QTest::newRow("the upstream's 404 passes through")
            << QByteArray("GET") << QStringLiteral("/nowhere") << QByteArray() << 404
            << QByteArray("{\"error\":{\"code\":\"not-found\",\"message\":\"no route\","
                          "\"retryable\":false}}");
}

void tst_FaultProxy::forwardsRequests()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QByteArray, requestBody);
    QFETCH(int, status);
    QFETCH(QByteArray, responseBody);

    QSignalSpy forwarded(m_proxy.get(), &FaultProxy::requestForwarded);
    QSignalSpy delivered(m_proxy.get(), &FaultProxy::responseDelivered);
    const Result result = send(method, path, requestBody);
    QVERIFY(result.finished);
    QCOMPARE(result.status, status);
    QCOMPARE(result.error, status == 404 ? QNetworkReply::ContentNotFoundError
                                         : QNetworkReply::NoError);
    QCOMPARE(result.body.size(), responseBody.size());
    QVERIFY(result.body == responseBody);
    QCOMPARE(result.headers.value("x-upstream"), QByteArray("yes"));

    QCOMPARE(m_upstream->requests.size(), 1);
    const FakeUpstream::Request &seen = m_upstream->requests.first();
    QCOMPARE(seen.method, method);
    QCOMPARE(seen.target, path.toLatin1());
    QCOMPARE(seen.body.size(), requestBody.size());
    QVERIFY(seen.body == requestBody);

    QCOMPARE(m_proxy->requestsSeen(), 1);
    QCOMPARE(m_proxy->requestsForwarded(), 1);
    QCOMPARE(m_proxy->responsesDelivered(), 1);
    QCOMPARE(m_proxy->totalFaultsInjected(), 0);
    QCOMPARE(m_proxy->upstreamErrors(), 0);
    QCOMPARE(forwarded.size(), 1);
    QCOMPARE(forwarded.first().at(0).toByteArray(), method);
    QCOMPARE(forwarded.first().at(1).toByteArray(), path.toLatin1());
    QCOMPARE(delivered.size(), 1);
    QCOMPARE(delivered.first().at(2).toInt(), status);
}

void tst_FaultProxy::forwardsTheHeadUnchanged()
{
    const Result result = send("POST", QStringLiteral("/v1/push"), "{}",
                               { { "Authorization", "Bearer s3cr3t" },
                                 { "X-Synq-Test", "kept  as\tis" } });
    QVERIFY(result.finished);
    QCOMPARE(result.status, 200);
    QCOMPARE(m_upstream->requests.size(), 1);
    const QByteArray head = m_upstream->requests.first().head;
    QVERIFY2(head.startsWith("POST /v1/push HTTP/1.1\r\n"), head.constData());
    QVERIFY2(head.contains("\r\nAuthorization: Bearer s3cr3t\r\n"), head.constData());
    QVERIFY2(head.contains("\r\nX-Synq-Test: kept  as\tis\r\n"), head.constData());
    QVERIFY2(head.contains("\r\nContent-Length: 2\r\n"), head.constData());
    // Upstream connections are one request each; the client's keep-alive stays on its side.
    QCOMPARE(head.count("Connection:"), 1);
    QVERIFY2(head.contains("\r\nConnection: close\r\n"), head.constData());
    QVERIFY2(!head.toLower().contains("keep-alive"), head.constData());
    QCOMPARE(result.headers.value("x-request-number"), QByteArray("1"));
    // The upstream said "Connection: close" for its hop; the client connection stays open.
    QVERIFY(!result.headers.contains("connection"));
}

void tst_FaultProxy::keepsClientConnectionsAlive()
{
    for (int i = 1; i <= 5; ++i) {
        const Result result = send("GET", QStringLiteral("/v1/health"));
        QVERIFY(result.finished);
        QCOMPARE(result.status, 200);
        QCOMPARE(result.headers.value("x-request-number"), QByteArray::number(i));
    }
    QCOMPARE(m_proxy->connectionsAccepted(), 1);
    QCOMPARE(m_upstream->connections, 5);
    QCOMPARE(m_proxy->requestsSeen(), 5);
    QCOMPARE(m_proxy->responsesDelivered(), 5);
}

void tst_FaultProxy::closeDelimitedResponseEndsTheClientConnection()
{
    // The body ends where the upstream's connection does, so the proxy closes the client's.
    QTcpSocket client;
    QSignalSpy disconnected(&client, &QTcpSocket::disconnected);
    client.connectToHost(QHostAddress::LocalHost, m_proxy->port());
    QTRY_COMPARE_WITH_TIMEOUT(client.state(), QAbstractSocket::ConnectedState, WaitMs);
    client.write("GET /close HTTP/1.1\r\nHost: x\r\n\r\n");
    QVERIFY(disconnected.wait(WaitMs));
    QCOMPARE(client.readAll(),
             "HTTP/1.1 200 OK\r\nX-Upstream: yes\r\nX-Request-Number: 1\r\n"
             "Content-Type: application/json\r\nConnection: close\r\n\r\n"
                     + closeDelimitedBody());
    QCOMPARE(m_upstream->requests.size(), 1);
    QCOMPARE(m_proxy->responsesDelivered(), 1);

    // QNetworkAccessManager reads it whole and opens a new connection for the next request.
    // (Qt 6.4 may resend a GET whose close-delimited reply came with the connection end, so
    // the upstream's count is not asserted here.)
    Result result = send("GET", QStringLiteral("/close"));
    QVERIFY(result.finished);
    QCOMPARE(result.error, QNetworkReply::NoError);
    QCOMPARE(result.body, closeDelimitedBody());
    QCOMPARE(result.headers.value("connection"), QByteArray("close"));
    result = send("GET", QStringLiteral("/v1/health"));
    QVERIFY(result.finished);
    QCOMPARE(result.status, 200);
    QVERIFY(m_proxy->connectionsAccepted() >= 3);
}

void tst_FaultProxy::relaysChunkedCodingAndPipelinedRequestsAsIs()
{
    QTcpSocket client;
    client.connectToHost(QHostAddress::LocalHost, m_proxy->port());
    QTRY_COMPARE_WITH_TIMEOUT(client.state(), QAbstractSocket::ConnectedState, WaitMs);
    // Two requests in one write: the second waits for the first's response.
    client.write("GET /chunked?size=70000 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    QByteArray received;
    const QByteArray second = "\r\n\r\nhello";
    QTRY_VERIFY_WITH_TIMEOUT((received += client.readAll()).endsWith(second), WaitMs);

    const QByteArray coding = chunkedCoding(pattern(70000));
    const qsizetype firstHeadEnd = received.indexOf("\r\n\r\n") + 4;
    const QByteArray firstHead = received.left(firstHeadEnd);
    QVERIFY2(firstHead.startsWith("HTTP/1.1 200 OK\r\n"), firstHead.constData());
    QVERIFY2(firstHead.contains("\r\nTransfer-Encoding: chunked\r\n"), firstHead.constData());
    QVERIFY(!firstHead.contains("Connection"));
    QVERIFY(received.mid(firstHeadEnd, coding.size()) == coding);
    const QByteArray rest = received.mid(firstHeadEnd + coding.size());
    QVERIFY2(rest.startsWith("HTTP/1.1 200 OK\r\n"), rest.left(200).constData());
    QVERIFY2(rest.contains("\r\nX-Request-Number: 2\r\n"), rest.constData());
    QVERIFY2(rest.contains("\r\nContent-Length: 5\r\n"), rest.constData());
    QCOMPARE(m_upstream->requests.size(), 2);
    QCOMPARE(m_upstream->requests.at(1).body, QByteArray("hello"));
    QCOMPARE(client.state(), QAbstractSocket::ConnectedState);
    QCOMPARE(m_proxy->connectionsAccepted(), 1);
}

void tst_FaultProxy::answersExpectContinueItself()
{
    QTcpSocket client;
    client.connectToHost(QHostAddress::LocalHost, m_proxy->port());
    QTRY_COMPARE_WITH_TIMEOUT(client.state(), QAbstractSocket::ConnectedState, WaitMs);
    client.write("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                 "Content-Length: 4\r\n\r\n");
    QByteArray received;
    QTRY_VERIFY_WITH_TIMEOUT((received += client.readAll()).endsWith("\r\n\r\n"), WaitMs);
    QCOMPARE(received, QByteArray("HTTP/1.1 100 Continue\r\n\r\n"));
    QCOMPARE(m_upstream->requests.size(), 0);
    client.write("ping");
    received.clear();
    QTRY_VERIFY_WITH_TIMEOUT((received += client.readAll()).endsWith("\r\n\r\nping"), WaitMs);
    QVERIFY2(received.startsWith("HTTP/1.1 200 OK\r\n"), received.constData());
    QCOMPARE(m_upstream->requests.size(), 1);
    QCOMPARE(m_upstream->requests.first().body, QByteArray("ping"));
}

void tst_FaultProxy::injectsErrorResponses_data()
{
    QTest::addColumn<FaultProxy::Fault>("fault");
    QTest::addColumn<int>("serverErrorStatus");
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("retryAfter");
    QTest::addColumn<QByteArray>("body");

    QTest::newRow("a server error answers 500 internal without forwarding")
            << FaultProxy::ServerError << 500 << 500 << QByteArray() << injectedBody("internal");
    QTest::newRow("a server error answers 503 unavailable when asked to")
            << FaultProxy::ServerError << 503 << 503 << QByteArray()
            << injectedBody("unavailable");
    QTest::newRow("a rate limit answers 429 with Retry-After without forwarding")
            << FaultProxy::RateLimit << 500 << 429 << QByteArray("7")
            << injectedBody("rate-limited");
}

void tst_FaultProxy::injectsErrorResponses()
{
    QFETCH(FaultProxy::Fault, fault);
    QFETCH(int, serverErrorStatus);
    QFETCH(int, status);
    QFETCH(QByteArray, retryAfter);
    QFETCH(QByteArray, body);

    m_proxy->setServerErrorStatus(serverErrorStatus);
    m_proxy->setRetryAfter(7);
    m_proxy->failNext(fault);
    QCOMPARE(m_proxy->pendingFaults(), 1);
    QSignalSpy injected(m_proxy.get(), &FaultProxy::faultInjected);

    const Result result = send("POST", QStringLiteral("/v1/push"), "{\"mutations\":[]}");
    QVERIFY(result.finished);
    QCOMPARE(result.status, status);
    QVERIFY(result.error != QNetworkReply::NoError);
    QCOMPARE(result.body, body);
    QCOMPARE(result.headers.value("content-type"), QByteArray("application/json"));
    QCOMPARE(result.headers.value("retry-after"), retryAfter);
    QCOMPARE(result.headers.contains("retry-after"), !retryAfter.isEmpty());
    const QJsonObject error = QJsonDocument::fromJson(result.body).object().value(
            QLatin1String("error")).toObject();
    QCOMPARE(error.value(QLatin1String("retryable")).toBool(), true);

    QCOMPARE(m_upstream->requests.size(), 0);
    QCOMPARE(m_proxy->requestsForwarded(), 0);
    QCOMPARE(m_proxy->faultsInjected(fault), 1);
    QCOMPARE(m_proxy->totalFaultsInjected(), 1);
    QCOMPARE(m_proxy->responsesDelivered(), 1);
    QCOMPARE(m_proxy->pendingFaults(), 0);
    QCOMPARE(injected.size(), 1);
    QCOMPARE(injected.first().at(0).value<FaultProxy::Fault>(), fault);
    QCOMPARE(injected.first().at(1).toByteArray(), QByteArray("POST"));
    QCOMPARE(injected.first().at(2).toByteArray(), QByteArray("/v1/push"));

    // The injected reply keeps the connection: the next request reuses it and goes through.
    const Result next = send("POST", QStringLiteral("/v1/push"), "{\"mutations\":[]}");
    QVERIFY(next.finished);
    QCOMPARE(next.status, 200);
    QCOMPARE(m_upstream->requests.size(), 1);
    QCOMPARE(m_proxy->connectionsAccepted(), 1);
}

void tst_FaultProxy::clientSeesANetworkError_data()
{
    QTest::addColumn<FaultProxy::Fault>("fault");
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<int>("upstreamPerFault");
    QTest::addColumn<bool>("exactlyOnce");

    // QNetworkAccessManager resends a request whose connection ends before any reply byte,
    // so a drop or reset is queued several times; the counts tie each attempt to one fault.
    QTest::newRow("a reset GET reaches no server and fails")
            << FaultProxy::Reset << QByteArray("GET") << QStringLiteral("/v1/health") << 0
            << false;
    QTest::newRow("a reset push reaches no server and fails")
            << FaultProxy::Reset << QByteArray("POST") << QStringLiteral("/v1/push") << 0
            << false;
    QTest::newRow("a dropped push is applied by the server yet fails for the client")
            << FaultProxy::DropResponse << QByteArray("POST") << QStringLiteral("/v1/push") << 1
            << false;
    QTest::newRow("a dropped GET is answered by the server yet fails for the client")
            << FaultProxy::DropResponse << QByteArray("GET") << QStringLiteral("/v1/health") << 1
            << false;
    QTest::newRow("a truncated push is applied exactly once and fails for the client")
            << FaultProxy::TruncateResponse << QByteArray("POST") << QStringLiteral("/v1/push")
            << 1 << true;
    QTest::newRow("a truncated 1 MiB response is answered once and fails for the client")
            << FaultProxy::TruncateResponse << QByteArray("POST") << QStringLiteral("/echo")
            << 1 << true;
    // Without a body the cut falls in the head, and a reply cut there is resent like a drop.
    QTest::newRow("a truncated 204 fails for the client, after resends")
            << FaultProxy::TruncateResponse << QByteArray("GET") << QStringLiteral("/nocontent")
            << 1 << false;
}

void tst_FaultProxy::clientSeesANetworkError()
{
    QFETCH(FaultProxy::Fault, fault);
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(int, upstreamPerFault);
    QFETCH(bool, exactlyOnce);

    constexpr int Queued = 10;
    m_proxy->failNext(fault, Queued);
    const QByteArray body = path == QLatin1String("/echo") ? pattern(OneMiB) : QByteArray("{}");
    const Result result = send(method, path, method == "POST" ? body : QByteArray());
    QVERIFY(result.finished);
    QVERIFY2(result.error != QNetworkReply::NoError, qPrintable(QString::number(result.error)));
    QVERIFY(result.error < QNetworkReply::ProxyConnectionRefusedError); // a network-layer error
    const int used = Queued - m_proxy->pendingFaults();
    QVERIFY(used >= 1);
    if (exactlyOnce)
        QCOMPARE(used, 1);
    QCOMPARE(m_proxy->requestsSeen(), used);
    QCOMPARE(m_proxy->faultsInjected(fault), used);
    QCOMPARE(m_proxy->totalFaultsInjected(), used);
    QCOMPARE(m_upstream->requests.size(), used * upstreamPerFault);
    QCOMPARE(m_proxy->requestsForwarded(), used * upstreamPerFault);
    QCOMPARE(m_proxy->responsesDelivered(), 0);

    m_proxy->clearFaults();
    const Result next = send("GET", QStringLiteral("/v1/health"));
    QVERIFY(next.finished);
    QCOMPARE(next.status, 200);
    QCOMPARE(next.body, healthBody());
}

void tst_FaultProxy::rawClientSeesTheConnectionEnd_data()
{
    QTest::addColumn<FaultProxy::Fault>("fault");
    QTest::addColumn<int>("upstreamRequests");
    QTest::addColumn<QByteArray>("received");

    QTest::newRow("a reset ends the connection before anything is forwarded")
            << FaultProxy::Reset << 0 << QByteArray();
    QTest::newRow("a dropped response ends the connection after the server answered")
            << FaultProxy::DropResponse << 1 << QByteArray();
    QTest::newRow("a truncated response ends the connection halfway through the body")
            << FaultProxy::TruncateResponse << 1
            << QByteArray("HTTP/1.1 200 OK\r\nX-Upstream: yes\r\nX-Request-Number: 1\r\n"
                          "Content-Type: application/octet-stream\r\nContent-Length: 10\r\n"
                          "\r\n01234");
}

void tst_FaultProxy::rawClientSeesTheConnectionEnd()
{
    QFETCH(FaultProxy::Fault, fault);
    QFETCH(int, upstreamRequests);
    QFETCH(QByteArray, received);

    m_proxy->failNext(fault);
    QTcpSocket client;
    QSignalSpy disconnected(&client, &QTcpSocket::disconnected);
    client.connectToHost(QHostAddress::LocalHost, m_proxy->port());
    QTRY_COMPARE_WITH_TIMEOUT(client.state(), QAbstractSocket::ConnectedState, WaitMs);
    client.write("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
    QVERIFY(disconnected.wait(WaitMs));
    QCOMPARE(client.readAll(), received);
    QCOMPARE(m_upstream->requests.size(), upstreamRequests);
    QCOMPARE(m_proxy->faultsInjected(fault), 1);
    QCOMPARE(m_proxy->requestsSeen(), 1);
    QCOMPARE(m_proxy->responsesDelivered(), 0);
}

void tst_FaultProxy::delayHoldsTheResponse()
{
    constexpr int DelayMs = 300;
    m_proxy->setDelay(DelayMs);
    m_proxy->failNext(FaultProxy::Delay);
    QSignalSpy injected(m_proxy.get(), &FaultProxy::faultInjected);
    QSignalSpy delivered(m_proxy.get(), &FaultProxy::responseDelivered);
    QElapsedTimer clock;
    clock.start();
    const Result result = send("GET", QStringLiteral("/v1/health"));
    // Only a lower bound: the machine may be slow, but the hold is never shorter.
    QVERIFY2(clock.elapsed() >= DelayMs, qPrintable(QString::number(clock.elapsed())));
    QVERIFY(result.finished);
    QCOMPARE(result.status, 200);
    QCOMPARE(result.body, healthBody());
    QCOMPARE(m_upstream->requests.size(), 1);
    QCOMPARE(m_proxy->faultsInjected(FaultProxy::Delay), 1);
    QCOMPARE(injected.size(), 1);
    QCOMPARE(injected.first().at(0).value<FaultProxy::Fault>(), FaultProxy::Delay);
    QCOMPARE(delivered.size(), 1);
    QCOMPARE(m_proxy->responsesDelivered(), 1);
}

void tst_FaultProxy::duplicateSendsTheRequestTwice()
{
    const QByteArray body = "{\"batch\":\"b1\",\"mutations\":[{\"id\":\"m1\"}]}";
    m_proxy->failNext(FaultProxy::Duplicate);
    QSignalSpy forwarded(m_proxy.get(), &FaultProxy::requestForwarded);
    const Result result = send("POST", QStringLiteral("/v1/push"), body);
    QVERIFY(result.finished);
    QCOMPARE(result.status, 200);
    QCOMPARE(result.headers.value("x-request-number"), QByteArray("2"));
    QCOMPARE(m_upstream->requests.size(), 2);
    QCOMPARE(m_upstream->requests.at(0).body, body);
    QCOMPARE(m_upstream->requests.at(1).body, body);
    QCOMPARE(m_upstream->requests.at(0).head, m_upstream->requests.at(1).head);
    QCOMPARE(m_proxy->requestsSeen(), 1);
    QCOMPARE(m_proxy->requestsForwarded(), 2);
    QCOMPARE(forwarded.size(), 2);
    QCOMPARE(m_proxy->faultsInjected(FaultProxy::Duplicate), 1);
    QCOMPARE(m_proxy->responsesDelivered(), 1);
}

void tst_FaultProxy::oneShotsAreUsedInOrder()
{
    m_proxy->failNext(FaultProxy::RateLimit);
    m_proxy->failNext(FaultProxy::ServerError, 2);
    m_proxy->failNext(FaultProxy::Duplicate);
    QCOMPARE(m_proxy->pendingFaults(), 4);
    QList<int> statuses;
    for (int i = 0; i < 5; ++i) {
        const Result result = send("GET", QStringLiteral("/v1/health"));
        QVERIFY(result.finished);
        statuses.append(result.status);
    }
    QCOMPARE(statuses, QList<int>({ 429, 500, 500, 200, 200 }));
    QCOMPARE(m_upstream->requests.size(), 3); // the duplicate's two, then the plain one
    QCOMPARE(m_proxy->faultsInjected(FaultProxy::RateLimit), 1);
    QCOMPARE(m_proxy->faultsInjected(FaultProxy::ServerError), 2);
    QCOMPARE(m_proxy->faultsInjected(FaultProxy::Duplicate), 1);
    QCOMPARE(m_proxy->pendingFaults(), 0);
}

void tst_FaultProxy::pathFilterLimitsFaults()
{
    m_proxy->setPathFilter(QStringLiteral("/v1/push"));
    m_proxy->failNext(FaultProxy::ServerError);

    Result result = send("GET", QStringLiteral("/v1/health"));
    QCOMPARE(result.status, 200);
    result = send("GET", QStringLiteral("/v1/changes?collection=todos"));
    QCOMPARE(result.status, 200);
    QCOMPARE(m_proxy->pendingFaults(), 1);
    result = send("POST", QStringLiteral("/v1/push"), "{}");
    QCOMPARE(result.status, 500);
    QCOMPARE(m_proxy->pendingFaults(), 0);
    QCOMPARE(m_upstream->requests.size(), 2);
    QCOMPARE(m_proxy->requestsSeen(), 3);
    QCOMPARE(m_proxy->totalFaultsInjected(), 1);
}

// A fresh proxy with the given seed; returns the fault each request got, in order.
QList<FaultProxy::Fault> tst_FaultProxy::runSequence(quint32 seed, int requests)
{
    FaultProxy proxy(m_upstream->url());
    if (!proxy.listen())
        return {};
    proxy.setSeed(seed);
    proxy.setFaultProbability(FaultProxy::ServerError, 0.2);
    proxy.setFaultProbability(FaultProxy::RateLimit, 0.2);
    proxy.setFaultProbability(FaultProxy::Duplicate, 0.2);
    QList<FaultProxy::Fault> faults;
    QSignalSpy injected(&proxy, &FaultProxy::faultInjected);
    QNetworkAccessManager nam;
    for (int i = 0; i < requests; ++i) {
        const qsizetype before = injected.size();
        QNetworkRequest request(QUrl(proxy.url().toString() + QLatin1String("/v1/health")));
        request.setTransferTimeout(WaitMs);
        std::unique_ptr<QNetworkReply> reply(nam.get(request));
        QSignalSpy finished(reply.get(), &QNetworkReply::finished);
        if (!reply->isFinished() && !finished.wait(WaitMs + 5000))
            return {};
        faults.append(injected.size() > before
                              ? injected.last().at(0).value<FaultProxy::Fault>()
                              : FaultProxy::NoFault);
    }
    return faults;
}

void tst_FaultProxy::probabilisticFaultsFollowTheSeed_data()
{
    QTest::addColumn<quint32>("seed");
    QTest::newRow("seed 1 repeats its sequence") << 1u;
    QTest::newRow("seed 42 repeats its sequence") << 42u;
    QTest::newRow("seed 20240601 repeats its sequence") << 20240601u;
}

void tst_FaultProxy::probabilisticFaultsFollowTheSeed()
{
    QFETCH(quint32, seed);
    constexpr int Requests = 30;
    const QList<FaultProxy::Fault> first = runSequence(seed, Requests);
    QCOMPARE(first.size(), Requests);
    const QList<FaultProxy::Fault> second = runSequence(seed, Requests);
    QCOMPARE(second, first);
    // 30 draws at 20 % each: every kind, and plain forwarding, show up (fixed for the seed).
    QVERIFY(first.contains(FaultProxy::NoFault));
    QVERIFY(first.contains(FaultProxy::ServerError));
    QVERIFY(first.contains(FaultProxy::RateLimit));
    QVERIFY(first.contains(FaultProxy::Duplicate));
}

void tst_FaultProxy::differentSeedsGiveDifferentSequences()
{
    const QList<FaultProxy::Fault> a = runSequence(1, 20);
    const QList<FaultProxy::Fault> b = runSequence(2, 20);
    QCOMPARE(a.size(), 20);
    QCOMPARE(b.size(), 20);
    QVERIFY(a != b);
}

void tst_FaultProxy::probabilityOneFaultsEveryMatchingRequest()
{
    m_proxy->setFaultProbability(FaultProxy::RateLimit, 1.0);
    QCOMPARE(m_proxy->faultProbability(FaultProxy::RateLimit), 1.0);
    for (int i = 0; i < 3; ++i) {
        const Result result = send("GET", QStringLiteral("/v1/health"));
        QCOMPARE(result.status, 429);
    }
    m_proxy->setFaultProbability(FaultProxy::RateLimit, 0.0);
    QCOMPARE(send("GET", QStringLiteral("/v1/health")).status, 200);
    QCOMPARE(m_proxy->faultsInjected(FaultProxy::RateLimit), 3);
    QCOMPARE(m_upstream->requests.size(), 1);

    m_proxy->resetCounters();
    QCOMPARE(m_proxy->faultsInjected(FaultProxy::RateLimit), 0);
    QCOMPARE(m_proxy->requestsSeen(), 0);
    QCOMPARE(m_proxy->connectionsAccepted(), 0);
}

void tst_FaultProxy::upstreamFailuresGive502_data()
{
    QTest::addColumn<bool>("unreachable");
    QTest::addColumn<QString>("path");
    QTest::addColumn<int>("upstreamRequests");

    QTest::newRow("an unreachable upstream gives 502")
            << true << QStringLiteral("/v1/push") << 0;
    QTest::newRow("an upstream that never answers gives 502 after the timeout")
            << false << QStringLiteral("/hang") << 1;
    QTest::newRow("an upstream answering something other than HTTP gives 502")
            << false << QStringLiteral("/garbage") << 1;
}

void tst_FaultProxy::upstreamFailuresGive502()
{
    QFETCH(bool, unreachable);
    QFETCH(QString, path);
    QFETCH(int, upstreamRequests);

    QTcpServer closed;
    if (unreachable) {
        QVERIFY(closed.listen(QHostAddress::LocalHost, 0));
        const quint16 deadPort = closed.serverPort();
        closed.close();
        m_proxy->setTarget(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(deadPort)));
    }
    m_proxy->setUpstreamTimeout(300);
    m_proxy->failNext(FaultProxy::DropResponse);
    QSignalSpy failed(m_proxy.get(), &FaultProxy::upstreamFailed);

    const Result result = send("POST", path, "{}");
    QVERIFY(result.finished);
    QCOMPARE(result.status, 502);
    const QJsonObject error = QJsonDocument::fromJson(result.body).object().value(
            QLatin1String("error")).toObject();
    QCOMPARE(error.value(QLatin1String("code")).toString(), QStringLiteral("internal"));
    QCOMPARE(error.value(QLatin1String("retryable")).toBool(), true);
    QVERIFY(error.value(QLatin1String("message")).toString().startsWith(QLatin1String("proxy: ")));
    QCOMPARE(m_proxy->upstreamErrors(), 1);
    QCOMPARE(failed.size(), 1);
    QCOMPARE(failed.first().at(1).toByteArray(), path.toLatin1());
    QCOMPARE(m_upstream->requests.size(), upstreamRequests);
    QCOMPARE(m_proxy->requestsForwarded(), upstreamRequests);
    // The drop never took effect.
    QCOMPARE(m_proxy->faultsInjected(FaultProxy::DropResponse), 0);
    QCOMPARE(m_proxy->pendingFaults(), 0);

    // The client connection survives for the next request.
    m_proxy->setTarget(m_upstream->url());
    QCOMPARE(send("GET", QStringLiteral("/v1/health")).status, 200);
    QCOMPARE(m_proxy->connectionsAccepted(), 1);
}

void tst_FaultProxy::destructorClosesEverything()
{
    m_proxy->setDelay(60000);
    m_proxy->failNext(FaultProxy::Delay);
    QSignalSpy injected(m_proxy.get(), &FaultProxy::faultInjected);
    QTcpSocket held;  // its response is being held
    QTcpSocket idle;  // keep-alive, between requests
    QSignalSpy heldDisconnected(&held, &QTcpSocket::disconnected);
    QSignalSpy idleDisconnected(&idle, &QTcpSocket::disconnected);
    held.connectToHost(QHostAddress::LocalHost, m_proxy->port());
    idle.connectToHost(QHostAddress::LocalHost, m_proxy->port());
    QTRY_COMPARE_WITH_TIMEOUT(held.state(), QAbstractSocket::ConnectedState, WaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(idle.state(), QAbstractSocket::ConnectedState, WaitMs);
    held.write("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
    QVERIFY(injected.wait(WaitMs));
    idle.write("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
    QByteArray received;
    QTRY_VERIFY_WITH_TIMEOUT((received += idle.readAll()).endsWith(healthBody()), WaitMs);
    QCOMPARE(m_proxy->connectionsAccepted(), 2);

    m_proxy.reset();
    QVERIFY(heldDisconnected.size() == 1 || heldDisconnected.wait(WaitMs));
    QVERIFY(idleDisconnected.size() == 1 || idleDisconnected.wait(WaitMs));
    QCOMPARE(held.readAll(), QByteArray());
}

QTEST_GUILESS_MAIN(tst_FaultProxy)

#include "tst_faultproxy.moc"
