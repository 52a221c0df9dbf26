// SPDX-License-Identifier: BSD-3-Clause
//
// Synq::HttpTransport against an in-process fake HTTP server whose answers each test scripts:
// the requests it sends (docs/protocol.md), how it maps statuses, network failures, timeouts
// and hostile responses to SyncErrors, that each callback runs exactly once on the caller's
// thread, and that destroying the transport mid-request is safe and silent.

#include <synq/httptransport.h>

#include <QtCore/QDateTime>
#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLocale>
#include <QtCore/QPointer>
#include <QtCore/QThread>
#include <QtCore/QUrlQuery>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QTcpServer>
#include <QtNetwork/QTcpSocket>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include "testprinters.h"

#include <functional>
#include <memory>

using namespace Synq;

namespace {

// Upper bound of every wait: generous, as it is only reached when a test fails.
constexpr int WaitMs = 15000;

QByteArray reasonPhrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

QByteArray head(int status, const QByteArrayList &headers)
{
    QByteArray out = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status) + "\r\n";
    for (const QByteArray &h : headers)
        out += h + "\r\n";
    return out + "\r\n";
}

QByteArray httpResponse(int status, const QByteArray &body, QByteArrayList headers = {})
{
    headers.prepend("Content-Length: " + QByteArray::number(body.size()));
    headers.prepend("Content-Type: application/json");
    return head(status, headers) + body;
}

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QByteArray imfFixdate(const QDateTime &at)
{
    return QLocale::c()
            .toString(at.toUTC(), QStringLiteral("ddd, dd MMM yyyy HH:mm:ss 'GMT'"))
            .toLatin1();
}

// A scripted HTTP/1.1 server on 127.0.0.1. Each request takes the next script from the queue;
// without one it gets a well-formed answer: every pushed mutation applied, an empty page of
// changes (with one upsert keyed after the collection, so concurrent pulls can be told apart),
// the asked-for record found.
class FakeServer : public QObject
{
    Q_OBJECT

public:
    struct Request
    {
        QByteArray method;
        QByteArray target; // as sent: path and encoded query
        QString path;
        QByteArray rawQuery;
        QHash<QByteArray, QByteArray> headers; // lower-case names
        QByteArray body;
    };
    using Script = std::function<void(QTcpSocket *socket, const Request &request)>;

    FakeServer() : m_server(new QTcpServer(this))
    {
        connect(m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server->nextPendingConnection()) {
                ++connections;
                socket->setParent(this);
                connect(socket, &QTcpSocket::readyRead, this, [this, socket] { read(socket); });
                connect(socket, &QTcpSocket::disconnected, this, [this, socket] {
                    m_buffers.remove(socket);
                    socket->deleteLater();
                    Q_EMIT clientDisconnected();
                });
            }
        });
    }

    bool listen() { return m_server->listen(QHostAddress::LocalHost, 0); }
    QUrl url(const QString &path = QString()) const
    {
        return QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_server->serverPort()).arg(path));
    }

    void enqueue(Script script) { m_scripts.append(std::move(script)); }

    // Answers with these bytes and keeps the connection open.
    static Script reply(const QByteArray &response)
    {
        return [response](QTcpSocket *socket, const Request &) { socket->write(response); };
    }
    static Script hang()
    {
        return [](QTcpSocket *, const Request &) { };
    }
    // Sends these bytes, then closes the connection.
    static Script replyAndClose(const QByteArray &response)
    {
        return [response](QTcpSocket *socket, const Request &) {
            socket->write(response);
            socket->disconnectFromHost();
        };
    }

    QList<Request> requests;
    int connections = 0;

Q_SIGNALS:
    void requestReceived();
    void clientDisconnected();

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
            const QByteArrayList lines = buffer.left(headEnd).split('\n');
            qsizetype length = 0;
            for (qsizetype i = 1; i < lines.size(); ++i) {
                const qsizetype colon = lines.at(i).indexOf(':');
                if (colon < 0)
                    continue;
                const QByteArray name = lines.at(i).left(colon).trimmed().toLower();
                request.headers.insert(name, lines.at(i).mid(colon + 1).trimmed());
            }
            length = request.headers.value("content-length").toLongLong();
            if (buffer.size() < headEnd + 4 + length)
                return;
            const QByteArrayList requestLine = lines.first().trimmed().split(' ');
            request.method = requestLine.value(0);
            request.target = requestLine.value(1);
            const qsizetype q = request.target.indexOf('?');
            request.path = QString::fromLatin1(q < 0 ? request.target : request.target.left(q));
            request.rawQuery = q < 0 ? QByteArray() : request.target.mid(q + 1);
            request.body = buffer.mid(headEnd + 4, length);
            buffer.remove(0, headEnd + 4 + length);
            requests.append(request);
            if (!m_scripts.isEmpty())
                m_scripts.takeFirst()(socket, request);
            else
                socket->write(defaultResponse(request));
            Q_EMIT requestReceived();
        }
    }

    QByteArray defaultResponse(const Request &request)
    {
        if (request.path.endsWith(QLatin1String("/v1/push"))) {
            QJsonArray results;
            const QJsonArray mutations = QJsonDocument::fromJson(request.body)
                                                 .object()
                                                 .value(QLatin1String("mutations"))
                                                 .toArray();
            for (const QJsonValue &m : mutations) {
                const QJsonObject o = m.toObject();
                results.append(QJsonObject {
                        { QStringLiteral("id"), o.value(QLatin1String("id")) },
                        { QStringLiteral("status"), QStringLiteral("applied") },
                        { QStringLiteral("key"), o.value(QLatin1String("key")) },
                        { QStringLiteral("version"), ++m_version } });
            }
            return httpResponse(200, json(QJsonObject { { QStringLiteral("results"), results } }));
        }
        if (request.path.endsWith(QLatin1String("/v1/changes"))) {
            const QString collection = QUrlQuery(QString::fromLatin1(request.rawQuery))
                                               .queryItemValue(QStringLiteral("collection"),
                                                               QUrl::FullyDecoded);
            const QJsonObject change {
                { QStringLiteral("collection"), collection },
                { QStringLiteral("key"), collection },
                { QStringLiteral("version"), ++m_version },
                { QStringLiteral("op"), QStringLiteral("upsert") },
                { QStringLiteral("data"), QJsonObject { { QStringLiteral("id"), collection } } },
            };
            return httpResponse(200, json(QJsonObject {
                                             { QStringLiteral("changes"), QJsonArray { change } },
                                             { QStringLiteral("cursor"), QStringLiteral("v1:%1").arg(m_version) },
                                             { QStringLiteral("hasMore"), false } }));
        }
        if (request.path.endsWith(QLatin1String("/v1/record"))) {
            const QString key = QUrlQuery(QString::fromLatin1(request.rawQuery))
                                        .queryItemValue(QStringLiteral("key"), QUrl::FullyDecoded);
            return httpResponse(200, json(QJsonObject {
                                             { QStringLiteral("status"), QStringLiteral("found") },
                                             { QStringLiteral("key"), key },
                                             { QStringLiteral("version"), ++m_version },
                                             { QStringLiteral("data"),
                                               QJsonObject { { QStringLiteral("id"), key } } } }));
        }
        return httpResponse(404, "{\"error\":{\"code\":\"not-found\",\"message\":\"no route\"}}");
    }

    QTcpServer *m_server;
    QHash<QTcpSocket *, QByteArray> m_buffers;
    QList<Script> m_scripts;
    qint64 m_version = 100;
};

template<typename Response>
struct Outcome
{
    int calls = 0;
    Response response;
    SyncError error;
    QThread *thread = nullptr;
};
using PushOutcome = Outcome<Protocol::PushResponse>;
using PullOutcome = Outcome<Protocol::PullResponse>;
using FetchOutcome = Outcome<Protocol::FetchResponse>;

template<typename Response>
std::function<void(const Response &, const SyncError &)> record(std::shared_ptr<Outcome<Response>> o)
{
    return [o](const Response &response, const SyncError &error) {
        ++o->calls;
        o->response = response;
        o->error = error;
        o->thread = QThread::currentThread();
    };
}

Protocol::PushRequest pushRequest(int count = 2)
{
    Protocol::PushRequest request;
    request.client = QStringLiteral("client-1");
    for (int i = 1; i <= count; ++i) {
        Protocol::PushMutation m;
        m.id = QStringLiteral("m%1").arg(i);
        m.tx = QStringLiteral("t1");
        m.collection = QStringLiteral("todos");
        m.op = i == 1 ? MutationType::Insert : MutationType::Update;
        m.key = QStringLiteral("k%1").arg(i);
        m.baseVersion = i == 1 ? 0 : 17;
        m.data = QJsonObject { { QStringLiteral("title"), QStringLiteral("Milk") } };
        request.mutations.append(m);
    }
    request.batch = Protocol::batchId(request.mutations);
    return request;
}

Protocol::PullRequest pullRequest(const QString &collection = QStringLiteral("todos"),
                                  const QString &cursor = QStringLiteral("v1:42"), int limit = 500)
{
    Protocol::PullRequest request;
    request.collection = collection;
    request.cursor = cursor;
    request.limit = limit;
    return request;
}

Protocol::FetchRequest fetchRequest(const QString &key = QStringLiteral("k1"))
{
    return Protocol::FetchRequest { QStringLiteral("todos"), key };
}

// The query items as any HTTP server decodes them (form decoding: '+' is a space), so an
// opaque value must have every reserved character percent-encoded.
QHash<QString, QString> decodedQuery(const QByteArray &rawQuery)
{
    QHash<QString, QString> items;
    for (const QByteArray &pair : rawQuery.split('&')) {
        const qsizetype eq = pair.indexOf('=');
        auto decode = [](QByteArray part) {
            return QString::fromUtf8(QByteArray::fromPercentEncoding(part.replace('+', ' ')));
        };
        items.insert(decode(pair.left(eq)), decode(pair.mid(eq + 1)));
    }
    return items;
}

// A valid page of `count` upserts of the collection "todos", each with a sizeable record.
QByteArray bigPage(int count)
{
    QJsonArray changes;
    for (int i = 1; i <= count; ++i) {
        changes.append(QJsonObject {
                { QStringLiteral("collection"), QStringLiteral("todos") },
                { QStringLiteral("key"), QStringLiteral("k%1").arg(i) },
                { QStringLiteral("version"), i },
                { QStringLiteral("op"), QStringLiteral("upsert") },
                { QStringLiteral("data"),
                  QJsonObject { { QStringLiteral("id"), QStringLiteral("k%1").arg(i) },
                                { QStringLiteral("text"), QString(2000, QLatin1Char('x')) } } } });
    }
    return json(QJsonObject { { QStringLiteral("changes"), changes },
                              { QStringLiteral("cursor"), QStringLiteral("v1:%1").arg(count) },
                              { QStringLiteral("hasMore"), true } });
}

} // namespace

class tst_HttpTransport : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void pushRequestShape_data();
    void pushRequestShape();
    void pullRequestShape_data();
    void pullRequestShape();
    void pushResponseIsDecoded();
    void pullResponseIsDecodedOffThreadAndDeliveredOnOurs();
    void concurrentPullsGetTheirOwnPages();
    void fetchRequestShape_data();
    void fetchRequestShape();
    void fetchResponseIsDecoded_data();
    void fetchResponseIsDecoded();
    void invalidFetchIsRefusedWithoutARequest_data();
    void invalidFetchIsRefusedWithoutARequest();
    void malformedSuccessIsAProtocolError_data();
    void malformedSuccessIsAProtocolError();
    void errorStatuses_data();
    void errorStatuses();
    void connectionRefused_data();
    void connectionRefused();
    void timeouts_data();
    void timeouts();
    void truncatedBodyIsANetworkError_data();
    void truncatedBodyIsANetworkError();
    void oversizedResponseIsRefused_data();
    void oversizedResponseIsRefused();
    void destroyedWhileWaitingForTheServer();
    void destroyedWhileDecodingAPage();

private:
    // Runs one push, pull or fetch ("operation" column) and waits for its single callback.
    void run(const QByteArray &operation, SyncError *error, int timeoutMs = 30000);
    // A request through the same transport after everything before it: any late or repeated
    // callback of an earlier request has been delivered once this returns true.
    bool barrier();

    std::unique_ptr<FakeServer> m_server;
    std::unique_ptr<HttpTransport> m_transport;
};

void tst_HttpTransport::init()
{
    m_server = std::make_unique<FakeServer>();
    QVERIFY(m_server->listen());
    m_transport = std::make_unique<HttpTransport>();
    m_transport->setUrl(m_server->url());
}

void tst_HttpTransport::cleanup()
{
    m_transport.reset();
    m_server.reset();
}

bool tst_HttpTransport::barrier()
{
    auto pull = std::make_shared<PullOutcome>();
    m_transport->pull(pullRequest(QStringLiteral("barrier"), QString()), record(pull));
    return QTest::qWaitFor([&] { return pull->calls > 0; }, WaitMs) && pull->calls == 1
            && !pull->error.isError();
}

void tst_HttpTransport::run(const QByteArray &operation, SyncError *error, int timeoutMs)
{
    m_transport->setTimeoutMs(timeoutMs);
    if (operation == "push") {
        auto push = std::make_shared<PushOutcome>();
        m_transport->push(pushRequest(), record(push));
        QTRY_COMPARE_WITH_TIMEOUT(push->calls, 1, WaitMs);
        QCOMPARE(push->thread, QThread::currentThread());
        QVERIFY(barrier());
        QCOMPARE(push->calls, 1);
        QVERIFY(push->response.results.isEmpty());
        *error = push->error;
    } else if (operation == "fetch") {
        auto fetch = std::make_shared<FetchOutcome>();
        m_transport->fetch(fetchRequest(), record(fetch));
        QTRY_COMPARE_WITH_TIMEOUT(fetch->calls, 1, WaitMs);
        QCOMPARE(fetch->thread, QThread::currentThread());
        QVERIFY(barrier());
        QCOMPARE(fetch->calls, 1);
        // Nothing of a failed answer reaches the caller.
        QCOMPARE(fetch->response.status, Protocol::FetchResponse::Missing);
        QVERIFY(fetch->response.key.isEmpty());
        QCOMPARE(fetch->response.version, qint64(0));
        QVERIFY(fetch->response.data.isEmpty());
        *error = fetch->error;
    } else {
        auto pull = std::make_shared<PullOutcome>();
        m_transport->pull(pullRequest(), record(pull));
        QTRY_COMPARE_WITH_TIMEOUT(pull->calls, 1, WaitMs);
        QCOMPARE(pull->thread, QThread::currentThread());
        QVERIFY(barrier());
        QCOMPARE(pull->calls, 1);
        QVERIFY(pull->response.changes.isEmpty());
        QVERIFY(pull->response.cursor.isEmpty());
        *error = pull->error;
    }
}

// --- requests ---------------------------------------------------------------------------

void tst_HttpTransport::pushRequestShape_data()
{
    QTest::addColumn<QString>("basePath");
    QTest::addColumn<QString>("token");
    QTest::addColumn<QVariantMap>("headers");
    QTest::addColumn<QString>("expectedPath");

    QTest::newRow("a bare server url posts to /v1/push")
            << QString() << QString() << QVariantMap() << QStringLiteral("/v1/push");
    QTest::newRow("a url ending in a slash posts to /v1/push")
            << QStringLiteral("/") << QString() << QVariantMap() << QStringLiteral("/v1/push");
    QTest::newRow("a base path with a trailing slash is kept")
            << QStringLiteral("/api/") << QString() << QVariantMap() << QStringLiteral("/api/v1/push");
    QTest::newRow("a base path without a trailing slash is kept")
            << QStringLiteral("/api") << QString() << QVariantMap() << QStringLiteral("/api/v1/push");
    QTest::newRow("a deeper base path is kept")
            << QStringLiteral("/tenant/7/sync/") << QString() << QVariantMap()
            << QStringLiteral("/tenant/7/sync/v1/push");
    QTest::newRow("a token goes out as a bearer authorization")
            << QString() << QStringLiteral("s3cr3t-token") << QVariantMap()
            << QStringLiteral("/v1/push");
    QTest::newRow("custom headers go out as given")
            << QStringLiteral("/api/") << QStringLiteral("tok")
            << QVariantMap { { QStringLiteral("X-Tenant"), QStringLiteral("acme") },
                             { QStringLiteral("X-Client-Version"), 42 } }
            << QStringLiteral("/api/v1/push");
}

void tst_HttpTransport::pushRequestShape()
{
    QFETCH(QString, basePath);
    QFETCH(QString, token);
    QFETCH(QVariantMap, headers);
    QFETCH(QString, expectedPath);

    m_transport->setUrl(m_server->url(basePath));
    m_transport->setAuthToken(token);
    m_transport->setHeaders(headers);
    const Protocol::PushRequest request = pushRequest();
    auto push = std::make_shared<PushOutcome>();
    m_transport->push(request, record(push));
    QTRY_COMPARE_WITH_TIMEOUT(push->calls, 1, WaitMs);
    QCOMPARE(push->error, SyncError());

    QCOMPARE(m_server->requests.size(), 1);
    const FakeServer::Request &seen = m_server->requests.first();
    QCOMPARE(seen.method, QByteArray("POST"));
    QCOMPARE(seen.path, expectedPath);
    QCOMPARE(seen.rawQuery, QByteArray());
    QCOMPARE(seen.headers.value("content-type"), QByteArray("application/json"));
    QCOMPARE(QJsonDocument::fromJson(seen.body), QJsonDocument::fromJson(Protocol::encodePushRequest(request)));
    if (token.isEmpty())
        QVERIFY2(!seen.headers.contains("authorization"), seen.headers.value("authorization").constData());
    else
        QCOMPARE(seen.headers.value("authorization"), "Bearer " + token.toUtf8());
    for (auto it = headers.cbegin(); it != headers.cend(); ++it)
        QCOMPARE(seen.headers.value(it.key().toLatin1().toLower()), it.value().toString().toUtf8());

    // The default server answer applies both mutations, in order.
    QCOMPARE(push->response.results.size(), 2);
    QCOMPARE(push->response.results.at(0).id, QStringLiteral("m1"));
    QCOMPARE(push->response.results.at(1).id, QStringLiteral("m2"));
}

void tst_HttpTransport::pullRequestShape_data()
{
    QTest::addColumn<QString>("basePath");
    QTest::addColumn<QString>("token");
    QTest::addColumn<QString>("cursor");
    QTest::addColumn<int>("limit");
    QTest::addColumn<QString>("expectedPath");

    QTest::newRow("a first pull sends no since")
            << QString() << QString() << QString() << 500 << QStringLiteral("/v1/changes");
    QTest::newRow("a next pull sends the cursor as since")
            << QString() << QString() << QStringLiteral("v1:42") << 100 << QStringLiteral("/v1/changes");
    QTest::newRow("a base path is kept")
            << QStringLiteral("/api/") << QString() << QStringLiteral("v1:42") << 1000
            << QStringLiteral("/api/v1/changes");
    QTest::newRow("a token goes out as a bearer authorization")
            << QString() << QStringLiteral("s3cr3t") << QStringLiteral("v1:7") << 1
            << QStringLiteral("/v1/changes");
    QTest::newRow("an opaque cursor with reserved characters arrives unchanged")
            << QString() << QString() << QStringLiteral("a+b/c=d&e f%25#?\u00e9") << 500
            << QStringLiteral("/v1/changes");
}

void tst_HttpTransport::pullRequestShape()
{
    QFETCH(QString, basePath);
    QFETCH(QString, token);
    QFETCH(QString, cursor);
    QFETCH(int, limit);
    QFETCH(QString, expectedPath);

    m_transport->setUrl(m_server->url(basePath));
    m_transport->setAuthToken(token);
    auto pull = std::make_shared<PullOutcome>();
    m_transport->pull(pullRequest(QStringLiteral("todos"), cursor, limit), record(pull));
    QTRY_COMPARE_WITH_TIMEOUT(pull->calls, 1, WaitMs);
    QCOMPARE(pull->error, SyncError());

    QCOMPARE(m_server->requests.size(), 1);
    const FakeServer::Request &seen = m_server->requests.first();
    QCOMPARE(seen.method, QByteArray("GET"));
    QCOMPARE(seen.path, expectedPath);
    QCOMPARE(seen.body, QByteArray());
    if (token.isEmpty())
        QVERIFY(!seen.headers.contains("authorization"));
    else
        QCOMPARE(seen.headers.value("authorization"), "Bearer " + token.toUtf8());

    const QHash<QString, QString> items = decodedQuery(seen.rawQuery);
    QCOMPARE(items.value(QStringLiteral("collection")), QStringLiteral("todos"));
    QCOMPARE(items.value(QStringLiteral("limit")), QString::number(limit));
    QCOMPARE(items.contains(QStringLiteral("since")), !cursor.isEmpty());
    if (!cursor.isEmpty())
        QCOMPARE(items.value(QStringLiteral("since")), cursor);
    QCOMPARE(items.size(), cursor.isEmpty() ? 2 : 3);
}

// --- successful responses ---------------------------------------------------------------

void tst_HttpTransport::pushResponseIsDecoded()
{
    m_server->enqueue(FakeServer::reply(httpResponse(200, R"json({"results":[
        {"id":"m1","status":"applied","key":"srv-1","version":41},
        {"id":"m2","status":"conflict","key":"k2","version":19,"record":{"id":"k2","title":"Milk (2 l)"},
         "error":{"code":"conflict","message":"k2 is at version 19","retryable":false}}]})json")));
    auto push = std::make_shared<PushOutcome>();
    m_transport->push(pushRequest(), record(push));
    QTRY_COMPARE_WITH_TIMEOUT(push->calls, 1, WaitMs);
    QCOMPARE(push->thread, QThread::currentThread());
    QCOMPARE(push->error, SyncError());
    QCOMPARE(push->response.results.size(), 2);
    const Protocol::PushResult &a = push->response.results.at(0);
    QCOMPARE(a.status, Protocol::PushResult::Applied);
    QCOMPARE(a.key, QStringLiteral("srv-1"));
    QCOMPARE(a.version, qint64(41));
    const Protocol::PushResult &c = push->response.results.at(1);
    QCOMPARE(c.status, Protocol::PushResult::Conflict);
    QCOMPARE(c.version, qint64(19));
    QVERIFY(c.record.has_value());
    QCOMPARE(c.record->value(QLatin1String("title")).toString(), QStringLiteral("Milk (2 l)"));
    QCOMPARE(c.error.code(), SyncError::Conflict);
    QVERIFY(barrier());
    QCOMPARE(push->calls, 1);
}

void tst_HttpTransport::pullResponseIsDecodedOffThreadAndDeliveredOnOurs()
{
    m_server->enqueue(FakeServer::reply(httpResponse(200, bigPage(300))));
    auto pull = std::make_shared<PullOutcome>();
    m_transport->pull(pullRequest(QStringLiteral("todos"), QString(), 300), record(pull));
    QTRY_COMPARE_WITH_TIMEOUT(pull->calls, 1, WaitMs);
    QCOMPARE(pull->thread, QThread::currentThread());
    QCOMPARE(pull->error, SyncError());
    QCOMPARE(pull->response.changes.size(), 300);
    QCOMPARE(pull->response.changes.first().key, QStringLiteral("k1"));
    QCOMPARE(pull->response.changes.last().version, qint64(300));
    QCOMPARE(pull->response.cursor, QStringLiteral("v1:300"));
    QVERIFY(pull->response.hasMore);

    // The page went through the transport's own decoder thread, which is still running.
    const QThread *decoder = m_transport->findChild<QThread *>(QStringLiteral("synq-decoder"));
    QVERIFY(decoder);
    QVERIFY(decoder->isRunning());
    QVERIFY(barrier());
    QCOMPARE(pull->calls, 1);
}

void tst_HttpTransport::concurrentPullsGetTheirOwnPages()
{
    // Each default page holds one change keyed after its collection: a page handed to the
    // wrong callback fails the collection check and shows up as a Protocol error.
    const QStringList collections { QStringLiteral("todos"), QStringLiteral("projects"),
                                    QStringLiteral("tags"), QStringLiteral("notes") };
    QList<std::shared_ptr<PullOutcome>> outcomes;
    for (const QString &collection : collections) {
        outcomes.append(std::make_shared<PullOutcome>());
        m_transport->pull(pullRequest(collection, QString()), record(outcomes.last()));
    }
    for (qsizetype i = 0; i < collections.size(); ++i) {
        QTRY_COMPARE_WITH_TIMEOUT(outcomes.at(i)->calls, 1, WaitMs);
        QCOMPARE(outcomes.at(i)->error, SyncError());
        QCOMPARE(outcomes.at(i)->response.changes.size(), 1);
        QCOMPARE(outcomes.at(i)->response.changes.first().key, collections.at(i));
    }
    QVERIFY(barrier());
    for (const auto &o : outcomes)
        QCOMPARE(o->calls, 1);
}

void tst_HttpTransport::fetchRequestShape_data()
{
    QTest::addColumn<QString>("basePath");
    QTest::addColumn<QString>("token");
    QTest::addColumn<QVariantMap>("headers");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("expectedPath");

    QTest::newRow("a bare server url gets /v1/record")
            << QString() << QString() << QVariantMap() << QStringLiteral("k1")
            << QStringLiteral("/v1/record");
    QTest::newRow("a base path is kept")
            << QStringLiteral("/api/") << QString() << QVariantMap() << QStringLiteral("k1")
            << QStringLiteral("/api/v1/record");
    QTest::newRow("a token goes out as a bearer authorization, custom headers as given")
            << QString() << QStringLiteral("s3cr3t")
            << QVariantMap { { QStringLiteral("X-Tenant"), QStringLiteral("acme") } }
            << QStringLiteral("k1") << QStringLiteral("/v1/record");
    QTest::newRow("a key with reserved characters arrives unchanged")
            << QString() << QString() << QVariantMap()
            << QStringLiteral("a+b/c=d&e f%25#?\u00e9") << QStringLiteral("/v1/record");
    QTest::newRow("a key of 512 characters arrives unchanged")
            << QString() << QString() << QVariantMap() << QString(512, QLatin1Char('k'))
            << QStringLiteral("/v1/record");
}

void tst_HttpTransport::fetchRequestShape()
{
    QFETCH(QString, basePath);
    QFETCH(QString, token);
    QFETCH(QVariantMap, headers);
    QFETCH(QString, key);
    QFETCH(QString, expectedPath);

    m_transport->setUrl(m_server->url(basePath));
    m_transport->setAuthToken(token);
    m_transport->setHeaders(headers);
    auto fetch = std::make_shared<FetchOutcome>();
    m_transport->fetch(fetchRequest(key), record(fetch));
    QCOMPARE(fetch->calls, 0); // never inside fetch()
    QTRY_COMPARE_WITH_TIMEOUT(fetch->calls, 1, WaitMs);
    QCOMPARE(fetch->error, SyncError());
    QCOMPARE(fetch->thread, QThread::currentThread());

    QCOMPARE(m_server->requests.size(), 1);
    const FakeServer::Request &seen = m_server->requests.first();
    QCOMPARE(seen.method, QByteArray("GET"));
    QCOMPARE(seen.path, expectedPath);
    QCOMPARE(seen.body, QByteArray());
    if (token.isEmpty())
        QVERIFY(!seen.headers.contains("authorization"));
    else
        QCOMPARE(seen.headers.value("authorization"), "Bearer " + token.toUtf8());
    for (auto it = headers.cbegin(); it != headers.cend(); ++it)
        QCOMPARE(seen.headers.value(it.key().toLatin1().toLower()), it.value().toString().toUtf8());
    const QHash<QString, QString> items = decodedQuery(seen.rawQuery);
    QCOMPARE(items.value(QStringLiteral("collection")), QStringLiteral("todos"));
    QCOMPARE(items.value(QStringLiteral("key")), key);
    QCOMPARE(items.size(), 2);

    // The default answer finds the record under the key it was asked for.
    QCOMPARE(fetch->response.status, Protocol::FetchResponse::Found);
    QCOMPARE(fetch->response.key, key);
    QCOMPARE(fetch->response.data.value(QLatin1String("id")).toString(), key);
    QVERIFY(barrier());
    QCOMPARE(fetch->calls, 1);
}

void tst_HttpTransport::fetchResponseIsDecoded_data()
{
    using Status = Protocol::FetchResponse::Status;
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<qint64>("version");
    QTest::addColumn<QString>("title"); // of the data
    QTest::addColumn<QString>("hlc");

    QTest::newRow("found, with its stamp")
            << QByteArray(R"({"status":"found","key":"k1","version":19,)"
                          R"("data":{"id":"k1","title":"Milk"},)"
                          R"("hlc":"001764766000000:000003:dev"})")
            << int(Status::Found) << qint64(19) << QStringLiteral("Milk")
            << QStringLiteral("001764766000000:000003:dev");
    QTest::newRow("gone, a tombstone the server keeps")
            << QByteArray(R"({"status":"gone","key":"k1","version":42})") << int(Status::Gone)
            << qint64(42) << QString() << QString();
    QTest::newRow("missing, never written")
            << QByteArray(R"({"status":"missing","key":"k1"})") << int(Status::Missing)
            << qint64(0) << QString() << QString();
}

void tst_HttpTransport::fetchResponseIsDecoded()
{
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(qint64, version);
    QFETCH(QString, title);
    QFETCH(QString, hlc);

    m_server->enqueue(FakeServer::reply(httpResponse(200, body)));
    auto fetch = std::make_shared<FetchOutcome>();
    m_transport->fetch(fetchRequest(), record(fetch));
    QTRY_COMPARE_WITH_TIMEOUT(fetch->calls, 1, WaitMs);
    QCOMPARE(fetch->thread, QThread::currentThread());
    QCOMPARE(fetch->error, SyncError());
    QCOMPARE(int(fetch->response.status), status);
    QCOMPARE(fetch->response.key, QStringLiteral("k1"));
    QCOMPARE(fetch->response.version, version);
    QCOMPARE(fetch->response.data.value(QLatin1String("title")).toString(), title);
    QCOMPARE(fetch->response.hlc, hlc);
    QVERIFY(barrier());
    QCOMPARE(fetch->calls, 1);
}

void tst_HttpTransport::invalidFetchIsRefusedWithoutARequest_data()
{
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("message"); // as synq-server's 400 answer words it

    QTest::newRow("a collection that is not an identifier")
            << QStringLiteral("to-dos") << QStringLiteral("k1")
            << QStringLiteral("collection: not an identifier");
    QTest::newRow("an empty key") << QStringLiteral("todos") << QString()
                                  << QStringLiteral("key: must be 1 to 512 characters");
    QTest::newRow("a key of 513 characters")
            << QStringLiteral("todos") << QString(513, QLatin1Char('k'))
            << QStringLiteral("key: must be 1 to 512 characters");
    // A URL carries UTF-8: a lone surrogate would reach the server as another key.
    QTest::newRow("a key with a lone surrogate")
            << QStringLiteral("todos") << QStringLiteral("a") + QChar(0xd800)
            << QStringLiteral("key: contains NUL or invalid UTF-16");
    QTest::newRow("a key with a NUL")
            << QStringLiteral("todos") << QStringLiteral("a") + QChar(0)
            << QStringLiteral("key: contains NUL or invalid UTF-16");
}

void tst_HttpTransport::invalidFetchIsRefusedWithoutARequest()
{
    QFETCH(QString, collection);
    QFETCH(QString, key);
    QFETCH(QString, message);

    auto fetch = std::make_shared<FetchOutcome>();
    m_transport->fetch(Protocol::FetchRequest { collection, key }, record(fetch));
    QCOMPARE(fetch->calls, 0); // never inside fetch()
    QTRY_COMPARE_WITH_TIMEOUT(fetch->calls, 1, WaitMs);
    QCOMPARE(fetch->thread, QThread::currentThread());
    QCOMPARE(fetch->error.code(), SyncError::Validation);
    QVERIFY(!fetch->error.isRetryable());
    QCOMPARE(fetch->error.httpStatus(), 400);
    QVERIFY2(fetch->error.message().startsWith(message), qPrintable(fetch->error.message()));
    QVERIFY(barrier());
    QCOMPARE(fetch->calls, 1);
    // Only the barrier's pull reached the server.
    QCOMPARE(m_server->requests.size(), 1);
    QCOMPARE(m_server->requests.first().path, QStringLiteral("/v1/changes"));
}

// --- failures ---------------------------------------------------------------------------

void tst_HttpTransport::malformedSuccessIsAProtocolError_data()
{
    QTest::addColumn<QByteArray>("operation");
    QTest::addColumn<QByteArray>("body");

    for (const QByteArray op : { QByteArray("push"), QByteArray("pull"), QByteArray("fetch") }) {
        QTest::addRow("%s: a 200 that is not JSON", op.constData()) << op << QByteArray("<html>ok</html>");
        QTest::addRow("%s: a 200 with an empty body", op.constData()) << op << QByteArray();
        QTest::addRow("%s: a 200 with a JSON array", op.constData()) << op << QByteArray("[]");
    }
    QTest::newRow("push: a 200 with fewer results than mutations")
            << QByteArray("push")
            << QByteArray(R"({"results":[{"id":"m1","status":"applied","key":"k1","version":1}]})");
    QTest::newRow("pull: a 200 with changes of another collection")
            << QByteArray("pull")
            << QByteArray(R"({"changes":[{"collection":"projects","key":"p","version":1,"op":"upsert","data":{}}],)"
                          R"("cursor":"v1:1","hasMore":false})");
    QTest::newRow("pull: a 200 without cursor")
            << QByteArray("pull") << QByteArray(R"({"changes":[],"hasMore":false})");
    QTest::newRow("fetch: a 200 for another key")
            << QByteArray("fetch")
            << QByteArray(R"({"status":"found","key":"k2","version":1,"data":{}})");
    QTest::newRow("fetch: a 200 with an unknown status")
            << QByteArray("fetch") << QByteArray(R"({"status":"deleted","key":"k1","version":1})");
    QTest::newRow("fetch: a 200 that finds a record without data")
            << QByteArray("fetch") << QByteArray(R"({"status":"found","key":"k1","version":1})");
}

void tst_HttpTransport::malformedSuccessIsAProtocolError()
{
    QFETCH(QByteArray, operation);
    QFETCH(QByteArray, body);

    m_server->enqueue(FakeServer::reply(httpResponse(200, body)));
    SyncError error;
    run(operation, &error);
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(error.code(), SyncError::Protocol);
    QVERIFY(error.isRetryable());
}

void tst_HttpTransport::errorStatuses_data()
{
    QTest::addColumn<QByteArray>("operation");
    QTest::addColumn<QByteArray>("response");
    QTest::addColumn<SyncError::Code>("code");
    QTest::addColumn<bool>("retryable");
    QTest::addColumn<int>("httpStatus");
    QTest::addColumn<int>("minRetryAfterMs");
    QTest::addColumn<int>("maxRetryAfterMs");
    QTest::addColumn<int>("authRequests");
    QTest::addColumn<QString>("message"); // empty: not checked

    const QByteArray unauthorized = httpResponse(
            401, R"({"error":{"code":"unauthorized","message":"token expired","retryable":true}})");
    const QByteArray rateLimited = httpResponse(
            429, R"({"error":{"code":"rate-limited","message":"slow down","retryable":true}})",
            { "Retry-After: 3" });
    // The date is made now; the row runs within seconds, the wait must be near 10 s.
    const QByteArray unavailable = httpResponse(
            503, R"({"error":{"code":"unavailable","message":"maintenance","retryable":true}})",
            { "Retry-After: " + imfFixdate(QDateTime::currentDateTimeUtc().addSecs(10)) });
    const QByteArray internal = httpResponse(500, "<html>Internal Server Error</html>");
    const QByteArray internalWithRetryAfter = httpResponse(500, QByteArray(), { "Retry-After: 7" });
    const QByteArray validation = httpResponse(
            400, R"({"error":{"code":"validation","message":"mutations[0].key: too long","retryable":false}})");
    const QByteArray notFound = httpResponse(404, "Not Found");
    const QByteArray tooLarge = httpResponse(
            413, R"({"error":{"code":"too-large","message":"split it","retryable":true}})");
    const QByteArray badRetryAfter = httpResponse(429, QByteArray(), { "Retry-After: soon" });

    for (const QByteArray op : { QByteArray("push"), QByteArray("pull"), QByteArray("fetch") }) {
        auto row = [&](const char *what) -> QTestData & {
            return QTest::addRow("%s: %s", op.constData(), what);
        };
        row("401 asks for authentication once")
                << op << unauthorized << SyncError::Unauthorized << true << 401 << -1 << -1 << 1
                << QStringLiteral("token expired");
        row("429 with Retry-After 3 waits 3 s")
                << op << rateLimited << SyncError::RateLimited << true << 429 << 3000 << 3000 << 0
                << QStringLiteral("slow down");
        row("429 with a malformed Retry-After has no wait")
                << op << badRetryAfter << SyncError::RateLimited << true << 429 << -1 << -1 << 0
                << QString();
        row("503 with an HTTP-date Retry-After waits until then")
                << op << unavailable << SyncError::Network << true << 503 << 5000 << 10000 << 0
                << QStringLiteral("maintenance");
        row("500 is retryable")
                << op << internal << SyncError::Network << true << 500 << -1 << -1 << 0 << QString();
        row("500 with Retry-After keeps the wait")
                << op << internalWithRetryAfter << SyncError::Network << true << 500 << 7000 << 7000
                << 0 << QString();
        row("400 is not retryable")
                << op << validation << SyncError::Validation << false << 400 << -1 << -1 << 0
                << QStringLiteral("mutations[0].key: too long");
        row("404 is not retryable")
                << op << notFound << SyncError::Protocol << false << 404 << -1 << -1 << 0 << QString();
        row("413 is retryable after a split")
                << op << tooLarge << SyncError::Validation << true << 413 << -1 << -1 << 0
                << QStringLiteral("split it");
    }
}

void tst_HttpTransport::errorStatuses()
{
    QFETCH(QByteArray, operation);
    QFETCH(QByteArray, response);
    QFETCH(SyncError::Code, code);
    QFETCH(bool, retryable);
    QFETCH(int, httpStatus);
    QFETCH(int, minRetryAfterMs);
    QFETCH(int, maxRetryAfterMs);
    QFETCH(int, authRequests);
    QFETCH(QString, message);

    QSignalSpy auth(m_transport.get(), &SyncTransport::authenticationRequired);
    m_server->enqueue(FakeServer::reply(response));
    SyncError error;
    run(operation, &error);
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(error.code(), code);
    QCOMPARE(error.isRetryable(), retryable);
    QCOMPARE(error.httpStatus(), httpStatus);
    QVERIFY2(error.retryAfterMs() >= minRetryAfterMs && error.retryAfterMs() <= maxRetryAfterMs,
             qPrintable(QString::number(error.retryAfterMs())));
    if (!message.isEmpty())
        QCOMPARE(error.message(), message);
    QCOMPARE(auth.size(), authRequests);
}

void tst_HttpTransport::connectionRefused_data()
{
    QTest::addColumn<QByteArray>("operation");
    QTest::newRow("push to a port nothing listens on") << QByteArray("push");
    QTest::newRow("pull from a port nothing listens on") << QByteArray("pull");
    QTest::newRow("fetch from a port nothing listens on") << QByteArray("fetch");
}

void tst_HttpTransport::connectionRefused()
{
    QFETCH(QByteArray, operation);

    quint16 port = 0;
    {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        port = probe.serverPort();
    }
    m_transport->setUrl(QUrl(QStringLiteral("http://127.0.0.1:%1/").arg(port)));
    SyncError error;
    m_transport->setTimeoutMs(30000);
    if (operation == "push") {
        auto push = std::make_shared<PushOutcome>();
        m_transport->push(pushRequest(), record(push));
        QTRY_COMPARE_WITH_TIMEOUT(push->calls, 1, WaitMs);
        QCOMPARE(push->thread, QThread::currentThread());
        error = push->error;
        m_transport->setUrl(m_server->url());
        QVERIFY(barrier());
        QCOMPARE(push->calls, 1);
    } else if (operation == "fetch") {
        auto fetch = std::make_shared<FetchOutcome>();
        m_transport->fetch(fetchRequest(), record(fetch));
        QTRY_COMPARE_WITH_TIMEOUT(fetch->calls, 1, WaitMs);
        QCOMPARE(fetch->thread, QThread::currentThread());
        error = fetch->error;
        m_transport->setUrl(m_server->url());
        QVERIFY(barrier());
        QCOMPARE(fetch->calls, 1);
    } else {
        auto pull = std::make_shared<PullOutcome>();
        m_transport->pull(pullRequest(), record(pull));
        QTRY_COMPARE_WITH_TIMEOUT(pull->calls, 1, WaitMs);
        QCOMPARE(pull->thread, QThread::currentThread());
        error = pull->error;
        m_transport->setUrl(m_server->url());
        QVERIFY(barrier());
        QCOMPARE(pull->calls, 1);
    }
    QCOMPARE(error.code(), SyncError::Network);
    QVERIFY(error.isRetryable());
    QCOMPARE(error.httpStatus(), 0);
    QVERIFY(!error.detail().isEmpty());
}

void tst_HttpTransport::timeouts_data()
{
    QTest::addColumn<QByteArray>("operation");
    QTest::addColumn<QByteArray>("partialResponse"); // null: no answer at all

    const QByteArray stalled = head(200, { "Content-Type: application/json", "Content-Length: 400" })
            + R"({"results":[{"id":"m1",)";
    const QByteArray stalledPage = head(200, { "Content-Type: application/json", "Content-Length: 400" })
            + R"({"changes":[],)";
    QTest::newRow("push: the server accepts but never answers") << QByteArray("push") << QByteArray();
    QTest::newRow("pull: the server accepts but never answers") << QByteArray("pull") << QByteArray();
    QTest::newRow("push: the server stops in the middle of the body") << QByteArray("push") << stalled;
    QTest::newRow("pull: the server stops in the middle of the body") << QByteArray("pull") << stalledPage;
    QTest::newRow("fetch: the server accepts but never answers")
            << QByteArray("fetch") << QByteArray();
    QTest::newRow("fetch: the server stops in the middle of the body")
            << QByteArray("fetch")
            << head(200, { "Content-Type: application/json", "Content-Length: 400" })
                    + R"({"status":"found",)";
}

void tst_HttpTransport::timeouts()
{
    QFETCH(QByteArray, operation);
    QFETCH(QByteArray, partialResponse);

    m_server->enqueue(partialResponse.isNull() ? FakeServer::hang() : FakeServer::reply(partialResponse));
    QElapsedTimer timer;
    timer.start();
    SyncError error;
    run(operation, &error, 200);
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(error.code(), SyncError::Timeout);
    QVERIFY(error.isRetryable());
    QVERIFY2(timer.elapsed() >= 150, qPrintable(QString::number(timer.elapsed())));
}

void tst_HttpTransport::truncatedBodyIsANetworkError_data()
{
    QTest::addColumn<QByteArray>("operation");
    QTest::addColumn<QByteArray>("response");

    // What arrived is complete JSON, but the server promised more and hung up: it is not the
    // response the server meant to send and must not be applied.
    const QByteArray results =
            R"({"results":[{"id":"m1","status":"applied","key":"k1","version":41},)"
            R"({"id":"m2","status":"applied","key":"k2","version":42}]})";
    const QByteArray changes = R"({"changes":[],"cursor":"v1:42","hasMore":false})";
    auto cut = [](const QByteArray &body) {
        return head(200, { "Content-Type: application/json",
                           "Content-Length: " + QByteArray::number(body.size() + 100) })
                + body;
    };
    QTest::newRow("push: a parseable body short of its Content-Length") << QByteArray("push") << cut(results);
    QTest::newRow("pull: a parseable body short of its Content-Length") << QByteArray("pull") << cut(changes);
    QTest::newRow("push: half a body, then the connection closes")
            << QByteArray("push") << cut(results.left(results.size() / 2));
    QTest::newRow("fetch: a parseable body short of its Content-Length")
            << QByteArray("fetch") << cut(R"({"status":"missing","key":"k1"})");
}

void tst_HttpTransport::truncatedBodyIsANetworkError()
{
    QFETCH(QByteArray, operation);
    QFETCH(QByteArray, response);

    m_server->enqueue(FakeServer::replyAndClose(response));
    SyncError error;
    run(operation, &error);
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(error.code(), SyncError::Network);
    QVERIFY(error.isRetryable());
}

void tst_HttpTransport::oversizedResponseIsRefused_data()
{
    QTest::addColumn<QByteArray>("operation");
    QTest::addColumn<bool>("announced"); // Content-Length above the limit, else chunked

    QTest::newRow("push: a Content-Length above the limit") << QByteArray("push") << true;
    QTest::newRow("pull: a Content-Length above the limit") << QByteArray("pull") << true;
    QTest::newRow("fetch: a Content-Length above the limit") << QByteArray("fetch") << true;
    QTest::newRow("push: a chunked body that passes the limit") << QByteArray("push") << false;
    QTest::newRow("pull: a chunked body that passes the limit") << QByteArray("pull") << false;
}

void tst_HttpTransport::oversizedResponseIsRefused()
{
    QFETCH(QByteArray, operation);
    QFETCH(bool, announced);

    // In both cases the server then stops sending without ending the body: a transport that
    // does not notice the size by itself waits until its (long) timeout and reports a Timeout.
    constexpr qint64 Chunk = 1024 * 1024;
    if (announced) {
        // Announce more than the limit and send 1 MiB of it.
        m_server->enqueue([](QTcpSocket *socket, const FakeServer::Request &) {
            socket->write(head(200, { "Content-Type: application/json",
                                      "Content-Length: "
                                              + QByteArray::number(HttpTransport::MaxResponseBytes + 1) }));
            socket->write("{\"results\":[" + QByteArray(Chunk, ' '));
        });
    } else {
        // Stream chunks as fast as the client takes them, up to 1 MiB past the limit.
        auto sent = std::make_shared<qint64>(0);
        m_server->enqueue([sent](QTcpSocket *socket, const FakeServer::Request &) {
            socket->write(head(200, { "Content-Type: application/json", "Transfer-Encoding: chunked" }));
            auto more = [sent, socket] {
                while (socket->bytesToWrite() < 4 * Chunk
                       && *sent <= HttpTransport::MaxResponseBytes) {
                    socket->write(QByteArray::number(Chunk, 16) + "\r\n" + QByteArray(Chunk, ' ')
                                  + "\r\n");
                    *sent += Chunk;
                }
            };
            QObject::connect(socket, &QTcpSocket::bytesWritten, socket, more);
            more();
        });
    }
    SyncError error;
    run(operation, &error, 60000);
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(error.code(), SyncError::Protocol);
    QVERIFY(error.isRetryable());
}

// --- destruction ------------------------------------------------------------------------

void tst_HttpTransport::destroyedWhileWaitingForTheServer()
{
    QSignalSpy received(m_server.get(), &FakeServer::requestReceived);
    QSignalSpy disconnected(m_server.get(), &FakeServer::clientDisconnected);
    m_server->enqueue(FakeServer::hang());
    auto pull = std::make_shared<PullOutcome>();
    m_transport->pull(pullRequest(), record(pull));
    QVERIFY(received.wait(WaitMs));

    m_transport.reset();
    // The transport's connection goes away with it, and nothing is called back.
    QTRY_VERIFY_WITH_TIMEOUT(disconnected.size() >= 1, WaitMs);
    QCoreApplication::sendPostedEvents();
    QCoreApplication::processEvents();
    QCOMPARE(pull->calls, 0);
}

void tst_HttpTransport::destroyedWhileDecodingAPage()
{
    // The reply is complete and its page handed to the decoder thread when the transport goes:
    // the decoded page must be dropped, not delivered to a destroyed transport's caller.
    m_server->enqueue(FakeServer::reply(httpResponse(200, bigPage(1000))));
    auto pull = std::make_shared<PullOutcome>();
    m_transport->pull(pullRequest(QStringLiteral("todos"), QString(), 1000), record(pull));
    auto *manager = m_transport->findChild<QNetworkAccessManager *>();
    QVERIFY(manager);
    HttpTransport *transport = m_transport.release();
    QPointer<HttpTransport> guard(transport);
    QSignalSpy destroyed(transport, &QObject::destroyed);
    int finishedReplies = 0;
    connect(manager, &QNetworkAccessManager::finished, transport, [&finishedReplies, transport] {
        ++finishedReplies;
        transport->deleteLater();
    });
    QVERIFY(destroyed.wait(WaitMs));
    QVERIFY(guard.isNull());
    QCOMPARE(finishedReplies, 1);
    QCoreApplication::sendPostedEvents();
    QCoreApplication::processEvents();
    QCOMPARE(pull->calls, 0);
}

QTEST_GUILESS_MAIN(tst_HttpTransport)

#include "tst_httptransport.moc"
