// SPDX-License-Identifier: BSD-3-Clause
//
// synq-server against docs/protocol.md, over real HTTP: every test starts its own server
// process (tests/shared/serverprocess.h) on 127.0.0.1 with a free port and a fresh database,
// and stops it again. Each test runs on SQLite and, when SYNQ_TEST_POSTGRES_URL names a
// PostgreSQL server (tests/shared/pg-cluster.sh), once more on PostgreSQL in a fresh schema.

#include "serverprocess.h"

#include <QtCore/QCryptographicHash>
#include <QtCore/QDateTime>
#include <QtCore/QDeadlineTimer>
#include <QtCore/QFile>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QMap>
#include <QtCore/QRandomGenerator>
#include <QtCore/QSet>
#include <QtCore/QUrlQuery>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>
#include <QtNetwork/QTcpSocket>
#include <QtSql/QSqlDatabase>
#include <QtSql/QSqlError>
#include <QtSql/QSqlQuery>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <algorithm>
#include <memory>

#include <signal.h>

using namespace Qt::StringLiterals;
using SynqTest::ServerProcess;

namespace {

constexpr int RequestTimeoutMs = 20000;
constexpr qint64 MaxBody = 4 * 1024 * 1024;

struct Reply
{
    int status = 0;
    QByteArray body;
    QJsonObject json;
    QList<QPair<QByteArray, QByteArray>> headers;
    QString failure; // no HTTP response at all

    QByteArray header(const QByteArray &name) const
    {
        for (const auto &h : headers) {
            if (h.first.compare(name, Qt::CaseInsensitive) == 0)
                return h.second;
        }
        return QByteArray();
    }
    QJsonArray results() const { return json.value("results"_L1).toArray(); }
    QJsonObject result(qsizetype i) const { return results().at(i).toObject(); }
    QJsonArray changes() const { return json.value("changes"_L1).toArray(); }
    QString cursor() const { return json.value("cursor"_L1).toString(); }
    bool hasMore() const { return json.value("hasMore"_L1).toBool(); }
    QJsonObject error() const { return json.value("error"_L1).toObject(); }
    QString errorCode() const { return error().value("code"_L1).toString(); }
    QString describe() const
    {
        return failure.isEmpty()
                ? u"HTTP %1: %2"_s.arg(status).arg(QString::fromUtf8(body.left(600)))
                : u"no response: %1"_s.arg(failure);
    }

    void parseJson()
    {
        const QJsonDocument doc = QJsonDocument::fromJson(body);
        json = doc.isObject() ? doc.object() : QJsonObject();
    }
};

QJsonObject insertOp(const QString &id, const QString &key, const QJsonObject &data,
                     const QJsonValue &base = 0, const QString &collection = u"todos"_s,
                     const QString &tx = QString())
{
    return QJsonObject { { "id"_L1, id },
                         { "tx"_L1, tx.isEmpty() ? id : tx },
                         { "collection"_L1, collection },
                         { "op"_L1, "insert"_L1 },
                         { "key"_L1, key },
                         { "baseVersion"_L1, base },
                         { "data"_L1, data } };
}

QJsonObject updateOp(const QString &id, const QString &key, const QJsonObject &changes,
                     const QJsonValue &base, const QString &collection = u"todos"_s,
                     const QString &tx = QString())
{
    return QJsonObject { { "id"_L1, id },
                         { "tx"_L1, tx.isEmpty() ? id : tx },
                         { "collection"_L1, collection },
                         { "op"_L1, "update"_L1 },
                         { "key"_L1, key },
                         { "baseVersion"_L1, base },
                         { "changes"_L1, changes } };
}

QJsonObject removeOp(const QString &id, const QString &key, const QJsonValue &base,
                     const QString &collection = u"todos"_s, const QString &tx = QString())
{
    return QJsonObject { { "id"_L1, id },
                         { "tx"_L1, tx.isEmpty() ? id : tx },
                         { "collection"_L1, collection },
                         { "op"_L1, "remove"_L1 },
                         { "key"_L1, key },
                         { "baseVersion"_L1, base } };
}

QString batchId(const QJsonArray &mutations)
{
    QStringList ids;
    for (const QJsonValue &m : mutations)
        ids.append(m.toObject().value("id"_L1).toString());
    return QString::fromLatin1(
            QCryptographicHash::hash(ids.join(u'\n').toUtf8(), QCryptographicHash::Sha256).toHex());
}

QByteArray pushBody(const QJsonArray &mutations)
{
    return QJsonDocument(QJsonObject { { "client"_L1, "tst_server"_L1 },
                                       { "batch"_L1, batchId(mutations) },
                                       { "mutations"_L1, mutations } })
            .toJson(QJsonDocument::Compact);
}

Reply replyFrom(QNetworkReply *reply)
{
    Reply r;
    r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    r.body = reply->readAll();
    r.headers = reply->rawHeaderPairs();
    if (r.status == 0)
        r.failure = reply->isFinished() ? reply->errorString() : u"timed out"_s;
    r.parseJson();
    return r;
}

class Client
{
public:
    explicit Client(const QUrl &base, const QByteArray &token = QByteArray())
        : m_base(base), m_token(token)
    {
    }

    void setBase(const QUrl &base) { m_base = base; }

    QNetworkReply *sendAsync(const QByteArray &method, const QString &path,
                             const QUrlQuery &query = QUrlQuery(),
                             const QByteArray &body = QByteArray(),
                             const QByteArray &contentType = QByteArray())
    {
        QUrl url = m_base;
        url.setPath(path);
        url.setQuery(query);
        QNetworkRequest request(url);
        request.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
        request.setTransferTimeout(RequestTimeoutMs);
        if (!contentType.isEmpty())
            request.setHeader(QNetworkRequest::ContentTypeHeader, contentType);
        if (!m_token.isEmpty())
            request.setRawHeader("Authorization", "Bearer " + m_token);
        return m_nam.sendCustomRequest(request, method, body);
    }

    Reply send(const QByteArray &method, const QString &path, const QUrlQuery &query = QUrlQuery(),
               const QByteArray &body = QByteArray(), const QByteArray &contentType = QByteArray())
    {
        std::unique_ptr<QNetworkReply> reply(sendAsync(method, path, query, body, contentType));
        QSignalSpy finished(reply.get(), &QNetworkReply::finished);
        if (!reply->isFinished())
            finished.wait(RequestTimeoutMs);
        return replyFrom(reply.get());
    }

    Reply push(const QJsonArray &mutations)
    {
        return send("POST", u"/v1/push"_s, QUrlQuery(), pushBody(mutations), "application/json");
    }

    Reply pull(const QString &collection, const QString &since = QString(), int limit = 0)
    {
        QUrlQuery query;
        query.addQueryItem(u"collection"_s, collection);
        if (!since.isNull())
            query.addQueryItem(u"since"_s, QString(since).replace(u'%', "%25"_L1));
        if (limit > 0)
            query.addQueryItem(u"limit"_s, QString::number(limit));
        return send("GET", u"/v1/changes"_s, query);
    }

    // GET /v1/record, the key percent-encoded whole as HttpTransport sends it.
    Reply fetch(const QString &collection, const QString &key)
    {
        QUrlQuery query;
        query.addQueryItem(u"collection"_s, collection);
        query.addQueryItem(u"key"_s, QString::fromLatin1(QUrl::toPercentEncoding(key)));
        return send("GET", u"/v1/record"_s, query);
    }

    // The cursor after every change so far.
    QString cursorNow(const QString &collection)
    {
        QString cursor;
        for (int page = 0; page < 100; ++page) {
            const Reply r = pull(collection, cursor, 1000);
            if (r.status != 200)
                return QString();
            cursor = r.cursor();
            if (!r.hasMore())
                return cursor;
        }
        return QString();
    }

    // The live records as a listing from the beginning gives them: key -> change.
    QMap<QString, QJsonObject> records(const QString &collection)
    {
        QMap<QString, QJsonObject> out;
        QString cursor;
        for (int page = 0; page < 100; ++page) {
            const Reply r = pull(collection, cursor, 1000);
            if (r.status != 200)
                return { { u"<error>"_s, r.json } };
            for (const QJsonValue &c : r.changes()) {
                const QJsonObject change = c.toObject();
                if (change.value("op"_L1) == "delete"_L1)
                    out.remove(change.value("key"_L1).toString());
                else
                    out.insert(change.value("key"_L1).toString(), change);
            }
            cursor = r.cursor();
            if (!r.hasMore())
                break;
        }
        return out;
    }

private:
    QNetworkAccessManager m_nam;
    QUrl m_base;
    QByteArray m_token;
};

// Parses one HTTP response from the front of data; false while it is incomplete.
bool parseResponse(const QByteArray &data, Reply *reply)
{
    const qsizetype end = data.indexOf("\r\n\r\n");
    if (end < 0)
        return false;
    const QList<QByteArray> lines = data.left(end).split('\n');
    const QList<QByteArray> statusLine = lines.constFirst().trimmed().split(' ');
    if (statusLine.size() < 2)
        return false;
    Reply r;
    r.status = statusLine.at(1).toInt();
    qint64 length = 0;
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const qsizetype colon = lines.at(i).indexOf(':');
        if (colon < 0)
            continue;
        const QByteArray name = lines.at(i).left(colon).trimmed();
        const QByteArray value = lines.at(i).mid(colon + 1).trimmed();
        r.headers.append({ name, value });
        if (name.compare("content-length", Qt::CaseInsensitive) == 0)
            length = value.toLongLong();
    }
    if (data.size() < end + 4 + length)
        return false;
    r.body = data.mid(end + 4, length);
    r.parseJson();
    *reply = r;
    return true;
}

// Raw HTTP over a socket: what QNetworkAccessManager will not send (no Content-Type, lying
// Content-Length, chunked bodies, garbage).
Reply rawRequest(quint16 port, const QByteArray &request, int timeoutMs = RequestTimeoutMs)
{
    Reply reply;
    QTcpSocket socket;
    socket.connectToHost(QHostAddress(QHostAddress::LocalHost), port);
    if (!socket.waitForConnected(timeoutMs)) {
        reply.failure = socket.errorString();
        return reply;
    }
    socket.write(request);
    QByteArray data;
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        data += socket.readAll();
        if (parseResponse(data, &reply))
            return reply;
        if (socket.state() != QAbstractSocket::ConnectedState && socket.bytesAvailable() == 0)
            break;
        socket.waitForReadyRead(int(qBound(qint64(1), deadline.remainingTime(), qint64(500))));
    }
    data += socket.readAll();
    if (!parseResponse(data, &reply))
        reply.failure = u"no complete response (%1 bytes: %2)"_s.arg(data.size())
                                .arg(QString::fromLatin1(data.left(200)));
    return reply;
}

QByteArray rawPost(const QByteArray &path, const QByteArray &contentType, const QByteArray &body)
{
    QByteArray request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (!contentType.isEmpty())
        request += "Content-Type: " + contentType + "\r\n";
    request += "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body;
    return request;
}

QByteArray rawRequestLine(const QByteArray &method, const QByteArray &target)
{
    return method + ' ' + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
}

QByteArray json(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

// A push body whose mutations[0] is valid and mutations[1] is `bad` (so a refusal that wrote
// the first one would show).
QByteArray withBadSecond(const QJsonValue &bad)
{
    const QJsonArray mutations { insertOp(u"good"_s, u"good"_s, { { "title"_L1, "ok"_L1 } }), bad };
    return json({ { "batch"_L1, batchId(mutations) }, { "mutations"_L1, mutations } });
}

QJsonObject without(QJsonObject object, const char *field)
{
    object.remove(QLatin1String(field));
    return object;
}

QJsonObject with(QJsonObject object, const char *field, const QJsonValue &value)
{
    object.insert(QLatin1String(field), value);
    return object;
}

// Hybrid logical clock stamps as clients write them (HybridClock::format()).
const QString StampA = u"001764766000000:000000:device-a"_s;
const QString StampB = u"001764766000000:000001:device-b"_s;
const QString StampC = u"001764766000123:000000:device-a"_s;

QJsonObject stamped(QJsonObject mutation, const QString &hlc)
{
    mutation.insert("hlc"_L1, hlc);
    return mutation;
}

qint64 versionOf(const QJsonObject &result)
{
    return result.value("version"_L1).toInteger();
}

bool writeFile(const QString &path, const QByteArray &content)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly | QIODevice::Truncate)
            && file.write(content) == content.size();
}

// A connection of the test's own to a server's --database, and the schema its tables are in.
QSqlDatabase openDatabase(const QString &database, const QString &connectionName, QString *schema)
{
    if (database.startsWith("sqlite:"_L1)) {
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, connectionName);
        db.setDatabaseName(database.mid(7));
        db.open();
        *schema = u"main"_s;
        return db;
    }
    const QUrl url(database);
    QSqlDatabase db = QSqlDatabase::addDatabase(u"QPSQL"_s, connectionName);
    db.setHostName(url.host());
    db.setPort(url.port(5432));
    db.setUserName(url.userName());
    db.setPassword(url.password());
    db.setDatabaseName(url.path().mid(1));
    db.open();
    *schema = QUrlQuery(url).queryItemValue(u"schema"_s);
    return db;
}

} // namespace

class tst_Server : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data();
    void cleanup();

    void healthAnswersWithoutAToken();
    void pushAppliesEachOperation();
    void conflictRules_data();
    void conflictRules();
    void updateSetsOnlyTheGivenFields();
    void laterMutationsOfABatchAreCheckedAgainstEarlierOnes();
    void transactionIsAllOrNothing();
    void transactionsOfABatchSucceedOrFailIndependently();
    void repeatedMutationIdsReturnTheStoredResult();
    void repeatedMutationIdsSurviveARestart();
    void failedMutationsAreJudgedAgain();
    void versionsIncreaseAcrossCollectionsAndUsers();
    void twoServersShareOneDatabase();
    void pullPages_data();
    void pullPages();
    void pullFromTheBeginningListsLiveRecordsOnly();
    void pullShowsDeletesAndEachRecordOnceInItsLatestState();
    void listingFromTheBeginningMissesNoConcurrentChange();
    void cursorOlderThanTheTombstoneHorizonNeedsAResync();
    void tombstonesArePrunedWhileRunning();
    void cursorAheadOfTheServerNeedsAResync();
    void fetchAnswersFoundGoneOrMissing();
    void fetchOfAServerAssignedKey();
    void fetchAfterTheTombstoneHorizonIsMissing();
    void pushAcceptsMetadataAndStoresNoneOfIt();
    void unauthorizedRequests_data();
    void unauthorizedRequests();
    void usersSeeOnlyTheirOwnRecords();
    void tokensNeverReachTheLog();
    void malformedRequests_data();
    void malformedRequests();
    void bodyOfExactly4MiBIsAccepted();
    void oversizedBodyIsRefusedBeforeItArrives();
    void oversizedChunkedBodyIsRefused();
    void expectContinueIsAnswered();
    void survivesGarbageAndAbandonedConnections();
    void serverAssignedKeys();
    void serverAssignedKeyIsUsedByLaterMutationsOfTheBatch();
    void rolledBackTransactionLeavesNoKeysOrVersionsToLaterOnes();
    void keysAndDataRoundTrip_data();
    void keysAndDataRoundTrip();
    void stampsAreKeptWithRecordsAndTombstones();
    void writesWithoutAStampKeepNone();
    void stampsOfServerAssignedKeys();
    void schemaOneDatabaseIsUpgraded();
    void lockedDatabaseAnswersTryAgainLaterAndAppliesNothing();
    void recordLookupUsesThePrimaryKeyAsTheTableGrows();
    void sigtermStopsCleanlyAndKeepsTheData();
    void badFlags_data();
    void badFlags();
    void unusableDatabaseOrPortExitsWithOne_data();
    void unusableDatabaseOrPortExitsWithOne();

private:
    // A server with a fresh database of the current backend.
    std::unique_ptr<ServerProcess> newServer(const QStringList &arguments = {});
    bool startServer(const QStringList &arguments = {});
    Client client(const QByteArray &token = QByteArray()) const
    {
        return Client(m_server->url(), token);
    }
    QString tokensFile(ServerProcess *server);

    std::unique_ptr<ServerProcess> m_server;
};

void tst_Server::initTestCase_data()
{
    QTest::addColumn<QString>("postgresUrl");
    QTest::newRow("sqlite") << QString();
    const QString postgres = qEnvironmentVariable("SYNQ_TEST_POSTGRES_URL");
    if (!postgres.isEmpty())
        QTest::newRow("postgres") << postgres;
}

void tst_Server::cleanup()
{
    m_server.reset(); // stops it
}

std::unique_ptr<ServerProcess> tst_Server::newServer(const QStringList &arguments)
{
    QFETCH_GLOBAL(QString, postgresUrl);
    auto server = std::make_unique<ServerProcess>(arguments);
    if (!postgresUrl.isEmpty()) {
        // A schema of its own: the server creates it.
        const QString schema =
                u"t_%1"_s.arg(QRandomGenerator::global()->generate64(), 16, 16, QLatin1Char('0'));
        server->setDatabase(postgresUrl + (postgresUrl.contains(u'?') ? u'&' : u'?') + "schema="_L1
                            + schema);
    }
    return server;
}

bool tst_Server::startServer(const QStringList &arguments)
{
    m_server = newServer(arguments);
    return m_server->start();
}

QString tst_Server::tokensFile(ServerProcess *server)
{
    const QString path = server->filePath(u"tokens.json"_s);
    writeFile(path, R"({"alice-token": "alice", "bob-token": "bob"})");
    return path;
}

void tst_Server::healthAnswersWithoutAToken()
{
    m_server = newServer();
    m_server->setExtraArguments({ u"--tokens"_s, tokensFile(m_server.get()) });
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    const Reply r = client().send("GET", u"/v1/health"_s);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("Content-Type"), "application/json");
    QCOMPARE(r.json, (QJsonObject { { "status"_L1, "ok"_L1 }, { "protocol"_L1, 1 } }));
}

void tst_Server::pushAppliesEachOperation()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    Reply r = c.push(
            { insertOp(u"m1"_s, u"k1"_s, { { "id"_L1, "k1"_L1 }, { "title"_L1, "Milk"_L1 } }),
              insertOp(u"m2"_s, u"k2"_s, { { "id"_L1, "k2"_L1 }, { "title"_L1, "Eggs"_L1 } }) });
    QCOMPARE(r.status, 200);
    QCOMPARE(r.results().size(), 2);
    QCOMPARE(r.result(0),
             (QJsonObject { { "id"_L1, "m1"_L1 },
                            { "status"_L1, "applied"_L1 },
                            { "key"_L1, "k1"_L1 },
                            { "version"_L1, 1 } }));
    QCOMPARE(r.result(1).value("version"_L1).toInteger(), 2);

    r = c.push({ updateOp(u"m3"_s, u"k1"_s, { { "done"_L1, true } }, 1),
                 removeOp(u"m4"_s, u"k2"_s, 2) });
    QCOMPARE(r.status, 200);
    QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
    QCOMPARE(versionOf(r.result(0)), 3);
    QCOMPARE(r.result(1).value("status"_L1), "applied"_L1);
    QCOMPARE(versionOf(r.result(1)), 4);

    const auto records = c.records(u"todos"_s);
    QCOMPARE(records.keys(), QStringList { u"k1"_s });
    QCOMPARE(
            records.value(u"k1"_s).value("data"_L1).toObject(),
            (QJsonObject { { "id"_L1, "k1"_L1 }, { "title"_L1, "Milk"_L1 }, { "done"_L1, true } }));
    QCOMPARE(records.value(u"k1"_s).value("version"_L1).toInteger(), 3);
}

void tst_Server::conflictRules_data()
{
    QTest::addColumn<QString>("op");
    QTest::addColumn<QString>("state"); // of the key before: none, live or removed
    QTest::addColumn<QString>("base"); // current, older, zero or null
    QTest::addColumn<QString>("status");

    auto row = [](const char *tag, const char *op, const char *state, const char *base,
                  const char *status) {
        QTest::newRow(tag) << QString::fromLatin1(op) << QString::fromLatin1(state)
                           << QString::fromLatin1(base) << QString::fromLatin1(status);
    };
    row("an insert of a new key is applied", "insert", "none", "zero", "applied");
    row("an insert over a live key is a conflict carrying the record", "insert", "live", "zero",
        "conflict");
    row("an insert over a live key at its version is still a conflict", "insert", "live", "current",
        "conflict");
    row("an unchecked insert over a live key overwrites it", "insert", "live", "null", "applied");
    row("an insert over a removed key writes it anew", "insert", "removed", "zero", "applied");
    row("an update at the current version is applied", "update", "live", "current", "applied");
    row("an update made on an older version is a conflict", "update", "live", "older", "conflict");
    row("an update from version 0 of a live record is a conflict", "update", "live", "zero",
        "conflict");
    row("an unchecked update is applied", "update", "live", "null", "applied");
    row("an update of a removed record is a conflict saying deleted", "update", "removed",
        "current", "conflict");
    row("an unchecked update of a removed record is a conflict saying deleted", "update", "removed",
        "null", "conflict");
    row("an update of an unknown key is a conflict saying deleted", "update", "none", "zero",
        "conflict");
    row("a remove at the current version is applied", "remove", "live", "current", "applied");
    row("a remove made on an older version is a conflict", "remove", "live", "older", "conflict");
    row("an unchecked remove is applied", "remove", "live", "null", "applied");
    row("a remove of a removed record is applied", "remove", "removed", "older", "applied");
    row("a remove of an unknown key is applied", "remove", "none", "zero", "applied");
}

void tst_Server::conflictRules()
{
    QFETCH(QString, op);
    QFETCH(QString, state);
    QFETCH(QString, base);
    QFETCH(QString, status);
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    const QString key = u"k"_s;
    const QJsonObject original { { "id"_L1, key }, { "title"_L1, "first"_L1 } };
    qint64 older = 0;
    qint64 current = 0;
    QJsonObject currentData;
    if (state != "none"_L1) {
        Reply r = c.push({ insertOp(u"setup1"_s, key, original) });
        QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
        older = versionOf(r.result(0));
        if (state == "live"_L1)
            r = c.push({ updateOp(u"setup2"_s, key, { { "title"_L1, "second"_L1 } }, older) });
        else
            r = c.push({ removeOp(u"setup2"_s, key, older) });
        QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
        current = versionOf(r.result(0));
        if (state == "live"_L1)
            currentData = QJsonObject { { "id"_L1, key }, { "title"_L1, "second"_L1 } };
    }
    const QJsonValue baseVersion = base == "current"_L1 ? QJsonValue(current)
            : base == "older"_L1                        ? QJsonValue(older)
            : base == "zero"_L1                         ? QJsonValue(0)
                                                        : QJsonValue(QJsonValue::Null);
    const QJsonObject newData { { "id"_L1, key }, { "title"_L1, "mine"_L1 } };
    const QJsonObject mutation = op == "insert"_L1 ? insertOp(u"m"_s, key, newData, baseVersion)
            : op == "update"_L1 ? updateOp(u"m"_s, key, { { "title"_L1, "mine"_L1 } }, baseVersion)
                                : removeOp(u"m"_s, key, baseVersion);
    const Reply r = c.push({ mutation });
    QCOMPARE(r.status, 200);
    const QJsonObject result = r.result(0);
    QCOMPARE(result.value("status"_L1).toString(), status);
    QCOMPARE(result.value("id"_L1), "m"_L1);
    QCOMPARE(result.value("key"_L1).toString(), key);

    const auto records = c.records(u"todos"_s);
    if (status == "applied"_L1) {
        QVERIFY(versionOf(result) > current);
        QVERIFY(!result.contains("error"_L1));
        if (op == "remove"_L1) {
            QVERIFY(!records.contains(key));
        } else {
            QCOMPARE(records.value(key).value("version"_L1).toInteger(), versionOf(result));
            QCOMPARE(records.value(key).value("data"_L1).toObject(), newData);
        }
        return;
    }
    // A conflict: nothing written, and the server's current state in the result.
    QCOMPARE(versionOf(result), current);
    QCOMPARE(result.value("error"_L1).toObject().value("code"_L1), "conflict"_L1);
    QCOMPARE(result.value("error"_L1).toObject().value("retryable"_L1), false);
    QVERIFY(!result.value("error"_L1).toObject().value("message"_L1).toString().isEmpty());
    if (state == "live"_L1) {
        QCOMPARE(result.value("record"_L1).toObject(), currentData);
        QCOMPARE(result.value("deleted"_L1), false);
        QCOMPARE(records.value(key).value("version"_L1).toInteger(), current);
        QCOMPARE(records.value(key).value("data"_L1).toObject(), currentData);
    } else {
        QVERIFY(result.value("record"_L1).isNull());
        QCOMPARE(result.value("deleted"_L1), true);
        QVERIFY(!records.contains(key));
    }
}

void tst_Server::updateSetsOnlyTheGivenFields()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    const QJsonObject data { { "id"_L1, "k"_L1 },
                             { "title"_L1, "Milk"_L1 },
                             { "done"_L1, false },
                             { "tags"_L1, QJsonArray { "a"_L1 } },
                             { "note"_L1, "keep me"_L1 } };
    QCOMPARE(c.push({ insertOp(u"m1"_s, u"k"_s, data) }).result(0).value("status"_L1),
             "applied"_L1);
    const Reply r = c.push({ updateOp(u"m2"_s, u"k"_s,
                                      { { "done"_L1, true },
                                        { "tags"_L1, QJsonValue(QJsonValue::Null) },
                                        { "extra"_L1, QJsonObject { { "n"_L1, 1 } } } },
                                      1) });
    QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
    QCOMPARE(c.records(u"todos"_s).value(u"k"_s).value("data"_L1).toObject(),
             (QJsonObject { { "id"_L1, "k"_L1 },
                            { "title"_L1, "Milk"_L1 },
                            { "done"_L1, true },
                            { "tags"_L1, QJsonValue(QJsonValue::Null) },
                            { "note"_L1, "keep me"_L1 },
                            { "extra"_L1, QJsonObject { { "n"_L1, 1 } } } }));
}

void tst_Server::laterMutationsOfABatchAreCheckedAgainstEarlierOnes()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    // One batch, separate transactions, each made on what the client knew (version 0): each
    // later one is checked against the version the earlier one produced.
    Reply r =
            c.push({ insertOp(u"m1"_s, u"k"_s, { { "n"_L1, 1 } }),
                     updateOp(u"m2"_s, u"k"_s, { { "n"_L1, 2 } }, 0),
                     updateOp(u"m3"_s, u"k"_s, { { "n"_L1, 3 } }, 0), removeOp(u"m4"_s, u"k"_s, 0),
                     insertOp(u"m5"_s, u"k"_s, { { "n"_L1, 5 } }, 0) });
    QCOMPARE(r.status, 200);
    for (int i = 0; i < 5; ++i) {
        QCOMPARE(r.result(i).value("status"_L1), "applied"_L1);
        QCOMPARE(versionOf(r.result(i)), i + 1);
    }
    QCOMPARE(c.records(u"todos"_s).value(u"k"_s).value("data"_L1).toObject(),
             (QJsonObject { { "n"_L1, 5 } }));

    // The same inside one transaction.
    r = c.push({ updateOp(u"t1"_s, u"k"_s, { { "n"_L1, 6 } }, 5, u"todos"_s, u"T"_s),
                 updateOp(u"t2"_s, u"k"_s, { { "n"_L1, 7 } }, 5, u"todos"_s, u"T"_s) });
    QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
    QCOMPARE(r.result(1).value("status"_L1), "applied"_L1);
    QCOMPARE(versionOf(r.result(1)), 7);

    // Made on a version the server no longer has: the first conflicts, and the second is then
    // checked against its own base version and conflicts too.
    r = c.push({ updateOp(u"x1"_s, u"k"_s, { { "n"_L1, 8 } }, 5),
                 updateOp(u"x2"_s, u"k"_s, { { "n"_L1, 9 } }, 5) });
    QCOMPARE(r.result(0).value("status"_L1), "conflict"_L1);
    QCOMPARE(r.result(1).value("status"_L1), "conflict"_L1);
    QCOMPARE(versionOf(r.result(1)), 7);
}

void tst_Server::transactionIsAllOrNothing()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    QCOMPARE(
            c.push({ insertOp(u"seed"_s, u"a"_s, { { "v"_L1, 1 } }) }).result(0).value("status"_L1),
            "applied"_L1);
    const QString cursor = c.cursorNow(u"todos"_s);
    const QString tx = u"tx-1"_s;
    const Reply r = c.push({ insertOp(u"m1"_s, u"b"_s, { { "v"_L1, 1 } }, 0, u"todos"_s, tx),
                             updateOp(u"m2"_s, u"a"_s, { { "v"_L1, 2 } }, 1, u"todos"_s, tx),
                             insertOp(u"m3"_s, u"p"_s, { { "v"_L1, 1 } }, 0, u"projects"_s, tx),
                             updateOp(u"m4"_s, u"missing"_s, { { "v"_L1, 2 } }, 3, u"todos"_s, tx),
                             removeOp(u"m5"_s, u"a"_s, 2, u"todos"_s, tx) });
    QCOMPARE(r.status, 200);
    QCOMPARE(r.results().size(), 5);
    QCOMPARE(r.result(3).value("status"_L1), "conflict"_L1);
    QCOMPARE(r.result(3).value("deleted"_L1), true);
    for (int i : { 0, 1, 2, 4 }) {
        const QJsonObject result = r.result(i);
        QCOMPARE(result.value("status"_L1), "rejected"_L1);
        QCOMPARE(result.value("error"_L1).toObject().value("code"_L1), "aborted"_L1);
        QCOMPARE(result.value("error"_L1).toObject().value("retryable"_L1), false);
        QVERIFY(!result.contains("version"_L1) || versionOf(result) == 0);
    }
    // Nothing of it was written, and no version was used up.
    QCOMPARE(c.pull(u"todos"_s, cursor).changes().size(), 0);
    QCOMPARE(c.records(u"projects"_s).size(), 0);
    QCOMPARE(c.records(u"todos"_s).value(u"a"_s).value("data"_L1).toObject(),
             (QJsonObject { { "v"_L1, 1 } }));
    QCOMPARE(versionOf(c.push({ insertOp(u"after"_s, u"c"_s, {}) }).result(0)), 2);
}

void tst_Server::transactionsOfABatchSucceedOrFailIndependently()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    const Reply r = c.push({ insertOp(u"a1"_s, u"x"_s, {}, 0, u"todos"_s, u"A"_s),
                             insertOp(u"b1"_s, u"y"_s, {}, 0, u"todos"_s, u"B"_s),
                             updateOp(u"b2"_s, u"nope"_s, { { "f"_L1, 1 } }, 1, u"todos"_s, u"B"_s),
                             insertOp(u"c1"_s, u"z"_s, {}, 0, u"todos"_s, u"C"_s),
                             insertOp(u"c2"_s, u"w"_s, {}, 0, u"notes"_s, u"C"_s) });
    QCOMPARE(r.status, 200);
    QStringList statuses;
    for (const QJsonValue &result : r.results())
        statuses << result.toObject().value("status"_L1).toString();
    QCOMPARE(statuses,
             (QStringList { u"applied"_s, u"rejected"_s, u"conflict"_s, u"applied"_s,
                            u"applied"_s }));
    QCOMPARE(versionOf(r.result(0)), 1);
    QCOMPARE(versionOf(r.result(3)), 2);
    QCOMPARE(versionOf(r.result(4)), 3);
    QCOMPARE(c.records(u"todos"_s).keys(), (QStringList { u"x"_s, u"z"_s }));
    QCOMPARE(c.records(u"notes"_s).keys(), QStringList { u"w"_s });
}

void tst_Server::repeatedMutationIdsReturnTheStoredResult()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    const QJsonArray batch { insertOp(u"m1"_s, u"k1"_s, { { "n"_L1, 1 } }),
                             updateOp(u"m2"_s, u"k1"_s, { { "n"_L1, 2 } }, 0),
                             insertOp(u"m3"_s, u"k2"_s, {}) };
    const Reply first = c.push(batch);
    QCOMPARE(first.status, 200);
    const Reply second = c.push(batch);
    QCOMPARE(second.status, 200);
    QCOMPARE(second.results(), first.results());

    // A seen id in another batch, next to new ones, and with other content: still its result.
    const Reply mixed = c.push({ insertOp(u"m4"_s, u"k3"_s, {}),
                                 updateOp(u"m2"_s, u"k1"_s, { { "n"_L1, 99 } }, 0),
                                 insertOp(u"m5"_s, u"k4"_s, {}) });
    QCOMPARE(mixed.result(1), first.result(1));
    QCOMPARE(versionOf(mixed.result(0)), 4);
    QCOMPARE(versionOf(mixed.result(2)), 5);

    // Nothing was applied twice.
    const Reply feed = c.pull(u"todos"_s, u"v1:0"_s);
    QCOMPARE(feed.changes().size(), 4);
    QCOMPARE(c.records(u"todos"_s).value(u"k1"_s).value("data"_L1).toObject(),
             (QJsonObject { { "n"_L1, 2 } }));
    QCOMPARE(c.records(u"todos"_s).value(u"k1"_s).value("version"_L1).toInteger(), 2);
}

void tst_Server::repeatedMutationIdsSurviveARestart()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    const QJsonArray batch { insertOp(u"m1"_s, u"k1"_s, { { "n"_L1, 1 } }),
                             removeOp(u"m2"_s, u"k0"_s, QJsonValue::Null),
                             insertOp(u"m3"_s, u"k2"_s, {}, 0, u"projects"_s) };
    const Reply first = client().push(batch);
    QCOMPARE(first.status, 200);
    QVERIFY2(m_server->restart(), qPrintable(m_server->errorString()));
    Client c = client();
    const Reply again = c.push(batch);
    QCOMPARE(again.status, 200);
    QCOMPARE(again.results(), first.results());
    QCOMPARE(c.pull(u"todos"_s, u"v1:0"_s).changes().size(), 2);
    QCOMPARE(versionOf(c.push({ insertOp(u"m4"_s, u"k4"_s, {}) }).result(0)), 4);
}

void tst_Server::failedMutationsAreJudgedAgain()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    QCOMPARE(versionOf(c.push({ insertOp(u"m1"_s, u"k"_s, {}) }).result(0)), 1);
    QCOMPARE(versionOf(c.push({ updateOp(u"m2"_s, u"k"_s, { { "n"_L1, 2 } }, 1) }).result(0)), 2);
    // Only applied results are remembered: a conflict is not, so the client may rebase the
    // mutation and send it again under the same id.
    Reply r = c.push({ updateOp(u"m3"_s, u"k"_s, { { "n"_L1, 3 } }, 1),
                       insertOp(u"m4"_s, u"j"_s, {}, 0, u"todos"_s, u"m3"_s) });
    QCOMPARE(r.result(0).value("status"_L1), "conflict"_L1);
    QCOMPARE(r.result(1).value("status"_L1), "rejected"_L1);
    r = c.push({ updateOp(u"m3"_s, u"k"_s, { { "n"_L1, 3 } }, 2),
                 insertOp(u"m4"_s, u"j"_s, {}, 0, u"todos"_s, u"m3"_s) });
    QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
    QCOMPARE(versionOf(r.result(0)), 3);
    QCOMPARE(r.result(1).value("status"_L1), "applied"_L1);
}

void tst_Server::versionsIncreaseAcrossCollectionsAndUsers()
{
    m_server = newServer();
    m_server->setExtraArguments({ u"--tokens"_s, tokensFile(m_server.get()) });
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    Client alice = client("alice-token");
    Client bob = client("bob-token");
    const QStringList collections { u"todos"_s, u"projects"_s, u"notes"_s };
    qint64 last = 0;
    for (int i = 0; i < 24; ++i) {
        Client &who = i % 2 ? bob : alice;
        const QString collection = collections.at(i % 3);
        const QString id = u"m%1"_s.arg(i);
        const QJsonObject mutation = i % 4 == 3
                ? updateOp(id, u"k%1"_s.arg(i - 2), { { "i"_L1, i } }, QJsonValue::Null,
                           collections.at((i - 2) % 3))
                : insertOp(id, u"k%1"_s.arg(i), { { "i"_L1, i } }, 0, collection);
        const Reply r = who.push({ mutation });
        QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
        QVERIFY2(versionOf(r.result(0)) > last, qPrintable(r.describe()));
        last = versionOf(r.result(0));
    }
    QCOMPARE(last, 24); // and none skipped
}

void tst_Server::twoServersShareOneDatabase()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    ServerProcess second;
    second.setDatabase(m_server->database());
    QVERIFY2(second.start(), qPrintable(second.errorString()));
    Client a = client();
    Client b(second.url());

    // Concurrent pushes through both servers, one record each.
    constexpr int PerServer = 25;
    std::vector<std::unique_ptr<QNetworkReply>> replies;
    for (int i = 0; i < PerServer; ++i) {
        for (Client *via : { &a, &b }) {
            const QString id = u"%1-%2"_s.arg(via == &a ? u"a"_s : u"b"_s).arg(i);
            replies.emplace_back(via->sendAsync("POST", u"/v1/push"_s, QUrlQuery(),
                                                pushBody({ insertOp(id, id, { { "i"_L1, i } }) }),
                                                "application/json"));
        }
    }
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(replies.cbegin(), replies.cend(),
                                         [](const auto &r) { return r->isFinished(); }),
                             60000);
    QSet<qint64> versions;
    for (const auto &reply : replies) {
        const Reply r = replyFrom(reply.get());
        QCOMPARE(r.status, 200);
        QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
        versions.insert(versionOf(r.result(0)));
    }
    QCOMPARE(versions.size(), 2 * PerServer);

    // Either server's feed has every change, in strictly increasing versions.
    for (Client *via : { &a, &b }) {
        QString cursor;
        qint64 last = 0;
        QSet<QString> keys;
        for (int page = 0; page < 50; ++page) {
            const Reply r = via->pull(u"todos"_s, cursor.isEmpty() ? u"v1:0"_s : cursor, 7);
            QCOMPARE(r.status, 200);
            for (const QJsonValue &change : r.changes()) {
                QVERIFY(versionOf(change.toObject()) > last);
                last = versionOf(change.toObject());
                keys.insert(change.toObject().value("key"_L1).toString());
            }
            cursor = r.cursor();
            if (!r.hasMore())
                break;
        }
        QCOMPARE(keys.size(), 2 * PerServer);
    }
}

void tst_Server::pullPages_data()
{
    QTest::addColumn<int>("records");
    QTest::addColumn<int>("limit");
    QTest::addColumn<bool>("fromTheBeginning");
    QTest::addColumn<int>("pages");
    for (const bool beginning : { true, false }) {
        const char *from = beginning ? "from the beginning" : "from a cursor";
        auto row = [&](const char *what, int records, int limit, int pages) {
            QTest::addRow("%s %s", what, from) << records << limit << beginning << pages;
        };
        row("7 records in pages of 3 come in 3 pages", 7, 3, 3);
        row("6 records in pages of 3 come in 2 pages", 6, 3, 2);
        row("5 records in pages of 1 come in 5 pages", 5, 1, 5);
        row("4 records with the default limit come in 1 page", 4, 0, 1);
        row("no records come in 1 empty page", 0, 10, 1);
        row("1000 records in pages of 1000 come in 1 page", 1000, 1000, 1);
        row("501 records with the default limit come in 2 pages", 501, 0, 2);
    }
}

void tst_Server::pullPages()
{
    QFETCH(int, records);
    QFETCH(int, limit);
    QFETCH(bool, fromTheBeginning);
    QFETCH(int, pages);
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    // Versions of another collection in between: versions are global.
    QCOMPARE(c.push({ insertOp(u"other"_s, u"o"_s, {}, 0, u"notes"_s) }).status, 200);
    const QString start = fromTheBeginning ? QString() : c.cursorNow(u"todos"_s);
    QSet<QString> expected;
    for (int done = 0; done < records;) {
        QJsonArray batch;
        for (; done < records && batch.size() < 500; ++done) {
            const QString key = u"k%1"_s.arg(done, 4, 10, QLatin1Char('0'));
            batch.append(insertOp(key, key, { { "n"_L1, done } }));
            expected.insert(key);
        }
        QCOMPARE(c.push(batch).status, 200);
    }
    QCOMPARE(c.push({ insertOp(u"other2"_s, u"o2"_s, {}, 0, u"notes"_s) }).status, 200);

    QString cursor = start;
    QSet<QString> seen;
    qint64 last = 0;
    int page = 0;
    for (bool more = true; more && page < pages + 2; ++page) {
        const Reply r = c.pull(u"todos"_s, cursor, limit);
        QCOMPARE(r.status, 200);
        QVERIFY(r.changes().size() <= (limit ? limit : 500));
        QVERIFY(!r.cursor().isEmpty());
        QVERIFY(r.cursor() != cursor);
        for (const QJsonValue &value : r.changes()) {
            const QJsonObject change = value.toObject();
            QCOMPARE(change.value("collection"_L1), "todos"_L1);
            QCOMPARE(change.value("op"_L1), "upsert"_L1);
            QVERIFY(versionOf(change) > last);
            last = versionOf(change);
            const QString key = change.value("key"_L1).toString();
            QVERIFY2(!seen.contains(key), qPrintable(key));
            seen.insert(key);
            QCOMPARE(change.value("data"_L1).toObject().value("n"_L1).toInt(), key.mid(1).toInt());
        }
        more = r.hasMore();
        QCOMPARE(more, page + 1 < pages);
        cursor = r.cursor();
    }
    QCOMPARE(page, pages);
    QCOMPARE(seen, expected);
    // The last cursor is up to date: nothing more, and it stays put.
    const Reply after = c.pull(u"todos"_s, cursor, limit);
    QCOMPARE(after.status, 200);
    QCOMPARE(after.changes().size(), 0);
    QCOMPARE(after.hasMore(), false);
    QCOMPARE(after.cursor(), cursor);
}

void tst_Server::pullFromTheBeginningListsLiveRecordsOnly()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    QCOMPARE(c.push({ insertOp(u"1"_s, u"a"_s, { { "n"_L1, 1 } }), insertOp(u"2"_s, u"b"_s, {}),
                      insertOp(u"3"_s, u"c"_s, { { "n"_L1, 3 } }), removeOp(u"4"_s, u"b"_s, 2) })
                     .status,
             200);
    const Reply r = c.pull(u"todos"_s);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.changes(),
             (QJsonArray { QJsonObject { { "collection"_L1, "todos"_L1 },
                                         { "key"_L1, "a"_L1 },
                                         { "version"_L1, 1 },
                                         { "op"_L1, "upsert"_L1 },
                                         { "data"_L1, QJsonObject { { "n"_L1, 1 } } } },
                           QJsonObject { { "collection"_L1, "todos"_L1 },
                                         { "key"_L1, "c"_L1 },
                                         { "version"_L1, 3 },
                                         { "op"_L1, "upsert"_L1 },
                                         { "data"_L1, QJsonObject { { "n"_L1, 3 } } } } }));
    QCOMPARE(r.hasMore(), false);
    // An empty "since" is the beginning too.
    QCOMPARE(c.pull(u"todos"_s, u""_s).changes(), r.changes());
    // The cursor covers the delete: nothing follows it.
    QCOMPARE(c.pull(u"todos"_s, r.cursor()).changes().size(), 0);
}

void tst_Server::pullShowsDeletesAndEachRecordOnceInItsLatestState()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    QCOMPARE(c.push({ insertOp(u"1"_s, u"a"_s, { { "n"_L1, 0 } }), insertOp(u"2"_s, u"b"_s, {}) })
                     .status,
             200);
    const QString cursor = c.cursorNow(u"todos"_s);
    QCOMPARE(
            c.push({ updateOp(u"3"_s, u"a"_s, { { "n"_L1, 1 } }, 1), removeOp(u"4"_s, u"b"_s, 2),
                     updateOp(u"5"_s, u"a"_s, { { "n"_L1, 2 } }, 3), insertOp(u"6"_s, u"c"_s, {}) })
                    .status,
            200);
    const Reply r = c.pull(u"todos"_s, cursor);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.changes(),
             (QJsonArray { QJsonObject { { "collection"_L1, "todos"_L1 },
                                         { "key"_L1, "b"_L1 },
                                         { "version"_L1, 4 },
                                         { "op"_L1, "delete"_L1 },
                                         { "data"_L1, QJsonValue::Null } },
                           QJsonObject { { "collection"_L1, "todos"_L1 },
                                         { "key"_L1, "a"_L1 },
                                         { "version"_L1, 5 },
                                         { "op"_L1, "upsert"_L1 },
                                         { "data"_L1, QJsonObject { { "n"_L1, 2 } } } },
                           QJsonObject { { "collection"_L1, "todos"_L1 },
                                         { "key"_L1, "c"_L1 },
                                         { "version"_L1, 6 },
                                         { "op"_L1, "upsert"_L1 },
                                         { "data"_L1, QJsonObject {} } } }));
    QCOMPARE(r.cursor(), u"v1:6"_s);
}

void tst_Server::listingFromTheBeginningMissesNoConcurrentChange()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    QJsonArray seed;
    for (int i = 0; i < 6; ++i)
        seed.append(insertOp(u"r%1"_s.arg(i), u"r%1"_s.arg(i), { { "n"_L1, i } }));
    QCOMPARE(c.push(seed).status, 200);

    // A new client lists in pages of 2 while others keep writing; it applies what it gets.
    QMap<QString, QJsonObject> local;
    auto apply = [&local](const Reply &r) {
        for (const QJsonValue &value : r.changes()) {
            const QJsonObject change = value.toObject();
            if (change.value("op"_L1) == "delete"_L1)
                local.remove(change.value("key"_L1).toString());
            else
                local.insert(change.value("key"_L1).toString(), change.value("data"_L1).toObject());
        }
    };
    Reply r = c.pull(u"todos"_s, QString(), 2);
    QCOMPARE(r.changes().size(), 2);
    QVERIFY(r.hasMore());
    apply(r);
    QCOMPARE(c.push({ updateOp(u"u0"_s, u"r0"_s, { { "n"_L1, 100 } }, 1), // already listed
                      updateOp(u"u3"_s, u"r3"_s, { { "n"_L1, 103 } }, 4), // not yet listed
                      removeOp(u"d4"_s, u"r4"_s, 5), // not yet listed
                      removeOp(u"d1"_s, u"r1"_s, 2), // already listed
                      insertOp(u"i6"_s, u"r6"_s, { { "n"_L1, 6 } }) })
                     .status,
             200);
    for (int page = 0; page < 20 && r.hasMore(); ++page) {
        r = c.pull(u"todos"_s, r.cursor(), 2);
        QCOMPARE(r.status, 200);
        apply(r);
    }
    QVERIFY(!r.hasMore());
    QMap<QString, QJsonObject> server;
    const auto records = c.records(u"todos"_s);
    for (auto it = records.cbegin(); it != records.cend(); ++it)
        server.insert(it.key(), it.value().value("data"_L1).toObject());
    QCOMPARE(local, server);
    QCOMPARE(local.keys(), (QStringList { u"r0"_s, u"r2"_s, u"r3"_s, u"r5"_s, u"r6"_s }));
    QCOMPARE(local.value(u"r3"_s), (QJsonObject { { "n"_L1, 103 } }));
}

void tst_Server::cursorOlderThanTheTombstoneHorizonNeedsAResync()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    QCOMPARE(c.push({ insertOp(u"1"_s, u"a"_s, {}), insertOp(u"2"_s, u"b"_s, {}) }).status, 200);
    const QString beforeDelete = c.cursorNow(u"todos"_s);
    QCOMPARE(c.push({ removeOp(u"3"_s, u"a"_s, 1) }).result(0).value("status"_L1), "applied"_L1);
    const Reply withDelete = c.pull(u"todos"_s, beforeDelete);
    QCOMPARE(withDelete.changes().size(), 1);
    const QString afterDelete = withDelete.cursor();

    // A horizon of 0 s forgets every tombstone at start.
    m_server->setExtraArguments({ u"--tombstone-horizon"_s, u"0"_s });
    QVERIFY2(m_server->restart(), qPrintable(m_server->errorString()));
    c.setBase(m_server->url());
    const Reply gone = c.pull(u"todos"_s, beforeDelete);
    QCOMPARE(gone.status, 410);
    QCOMPARE(gone.errorCode(), u"resync-required"_s);
    QCOMPARE(gone.error().value("retryable"_L1), false);
    QVERIFY(!gone.json.contains("changes"_L1));

    // A cursor that already covers the deletion is still good.
    const Reply fine = c.pull(u"todos"_s, afterDelete);
    QCOMPARE(fine.status, 200);
    QCOMPARE(fine.changes().size(), 0);

    // The resync: from the beginning, and its cursor works (no 410 loop).
    const Reply fresh = c.pull(u"todos"_s);
    QCOMPARE(fresh.status, 200);
    QCOMPARE(fresh.changes().size(), 1);
    QCOMPARE(fresh.changes().at(0).toObject().value("key"_L1), "b"_L1);
    const Reply next = c.pull(u"todos"_s, fresh.cursor());
    QCOMPARE(next.status, 200);
    QCOMPARE(next.changes().size(), 0);
    // Even for a collection that was never written.
    const Reply other = c.pull(u"projects"_s);
    QCOMPARE(other.status, 200);
    QCOMPARE(c.pull(u"projects"_s, other.cursor()).status, 200);
}

void tst_Server::tombstonesArePrunedWhileRunning()
{
    QVERIFY2(startServer({ u"--tombstone-horizon"_s, u"1"_s }),
             qPrintable(m_server->errorString()));
    Client c = client();
    QCOMPARE(c.push({ insertOp(u"1"_s, u"a"_s, {}) }).status, 200);
    const QString beforeDelete = c.cursorNow(u"todos"_s);
    QCOMPARE(c.push({ removeOp(u"2"_s, u"a"_s, 1) }).status, 200);
    // Pruned within about a second and a half; then the old cursor cannot continue.
    QTRY_COMPARE_WITH_TIMEOUT(c.pull(u"todos"_s, beforeDelete).status, 410, 20000);
    QCOMPARE(c.pull(u"todos"_s).status, 200);
}

void tst_Server::cursorAheadOfTheServerNeedsAResync()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    QCOMPARE(c.push({ insertOp(u"1"_s, u"a"_s, {}) }).status, 200);
    for (const QString &cursor : { u"v1:2"_s, u"v1:999999999"_s, u"v1:9:3"_s }) {
        const Reply r = c.pull(u"todos"_s, cursor);
        QCOMPARE(r.status, 410);
        QCOMPARE(r.errorCode(), u"resync-required"_s);
    }
    QCOMPARE(c.pull(u"todos"_s, u"v1:1"_s).status, 200);
}

// docs/protocol.md, Fetch one record: the owner's state of one key now, in the exact shapes.
void tst_Server::fetchAnswersFoundGoneOrMissing()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    QCOMPARE(c.push({ stamped(insertOp(u"1"_s, u"a"_s, { { "title"_L1, "Milk"_L1 } }), StampA),
                      insertOp(u"2"_s, u"b"_s, { { "title"_L1, "Eggs"_L1 } }),
                      stamped(updateOp(u"3"_s, u"a"_s, { { "done"_L1, true } }, 1), StampC),
                      stamped(removeOp(u"4"_s, u"b"_s, 2), StampB),
                      insertOp(u"5"_s, u"c"_s, {}), removeOp(u"6"_s, u"c"_s, 5) })
                     .status,
             200);

    Reply r = c.fetch(u"todos"_s, u"a"_s);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("Content-Type"), "application/json");
    QCOMPARE(r.json,
             (QJsonObject { { "status"_L1, "found"_L1 },
                            { "key"_L1, "a"_L1 },
                            { "version"_L1, 3 },
                            { "data"_L1,
                              QJsonObject { { "title"_L1, "Milk"_L1 }, { "done"_L1, true } } },
                            { "hlc"_L1, StampC } }));
    // A tombstone the server still has: its version and the remove's stamp, no data.
    r = c.fetch(u"todos"_s, u"b"_s);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json,
             (QJsonObject { { "status"_L1, "gone"_L1 },
                            { "key"_L1, "b"_L1 },
                            { "version"_L1, 4 },
                            { "hlc"_L1, StampB } }));
    // Writes without a stamp leave hlc out.
    QCOMPARE(c.fetch(u"todos"_s, u"c"_s).json,
             (QJsonObject {
                     { "status"_L1, "gone"_L1 }, { "key"_L1, "c"_L1 }, { "version"_L1, 6 } }));
    // Never written: in this collection, or only in another one.
    for (const auto &[collection, key] :
         { std::pair { u"todos"_s, u"never"_s }, std::pair { u"projects"_s, u"a"_s } }) {
        r = c.fetch(collection, key);
        QCOMPARE(r.status, 200);
        QCOMPARE(r.json, (QJsonObject { { "status"_L1, "missing"_L1 }, { "key"_L1, key } }));
    }
    // A fetch writes nothing: no version was used up.
    QCOMPARE(versionOf(c.push({ insertOp(u"7"_s, u"d"_s, {}) }).result(0)), 7);
}

// With --server-assigned-keys the record lives under the server's key, and only there.
void tst_Server::fetchOfAServerAssignedKey()
{
    QVERIFY2(startServer({ u"--server-assigned-keys"_s, u"todos"_s }),
             qPrintable(m_server->errorString()));
    Client c = client();
    const Reply r = c.push({ stamped(
            insertOp(u"m1"_s, u"tmp-1"_s, { { "id"_L1, "tmp-1"_L1 }, { "title"_L1, "Milk"_L1 } }),
            StampA) });
    const QString key = r.result(0).value("key"_L1).toString();
    QVERIFY(!key.isEmpty() && key != "tmp-1"_L1);

    QCOMPARE(c.fetch(u"todos"_s, key).json,
             (QJsonObject { { "status"_L1, "found"_L1 },
                            { "key"_L1, key },
                            { "version"_L1, versionOf(r.result(0)) },
                            { "data"_L1,
                              QJsonObject { { "id"_L1, key }, { "title"_L1, "Milk"_L1 } } },
                            { "hlc"_L1, StampA } }));
    QCOMPARE(c.fetch(u"todos"_s, u"tmp-1"_s).json,
             (QJsonObject { { "status"_L1, "missing"_L1 }, { "key"_L1, "tmp-1"_L1 } }));
}

// A pruned tombstone is forgotten: the key is "missing", as if it had never been written.
void tst_Server::fetchAfterTheTombstoneHorizonIsMissing()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    QCOMPARE(c.push({ insertOp(u"1"_s, u"a"_s, {}), insertOp(u"2"_s, u"b"_s, {}),
                      removeOp(u"3"_s, u"a"_s, 1) })
                     .status,
             200);
    QCOMPARE(c.fetch(u"todos"_s, u"a"_s).json.value("status"_L1), "gone"_L1);

    // A horizon of 0 s forgets every tombstone at start.
    m_server->setExtraArguments({ u"--tombstone-horizon"_s, u"0"_s });
    QVERIFY2(m_server->restart(), qPrintable(m_server->errorString()));
    c.setBase(m_server->url());
    QCOMPARE(c.fetch(u"todos"_s, u"a"_s).json,
             (QJsonObject { { "status"_L1, "missing"_L1 }, { "key"_L1, "a"_L1 } }));
    // Live records are not pruned.
    QCOMPARE(c.fetch(u"todos"_s, u"b"_s).json.value("status"_L1), "found"_L1);
}

// docs/protocol.md, Push: "metadata" is any JSON value; the server accepts it and passes it to
// nobody: not into the record, the feed, a fetch or the result.
void tst_Server::pushAcceptsMetadataAndStoresNoneOfIt()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    const QList<QJsonValue> values {
        QJsonObject { { "reason"_L1, "bulk edit"_L1 }, { "by"_L1, QJsonArray { 1, true } } },
        QJsonArray { "x"_L1 },
        u"undo"_s,
        42,
        false,
        QJsonValue::Null,
        QString(100 * 1024, u'm'), // large, but the body is within 4 MiB
    };
    QJsonArray mutations;
    for (qsizetype i = 0; i < values.size(); ++i) {
        mutations.append(with(insertOp(u"m%1"_s.arg(i), u"k%1"_s.arg(i), { { "n"_L1, i } }),
                              "metadata", values.at(i)));
    }
    mutations.append(with(updateOp(u"u"_s, u"k0"_s, { { "n"_L1, 9 } }, 1), "metadata",
                          QJsonObject { { "reason"_L1, "fix"_L1 } }));
    mutations.append(with(removeOp(u"r"_s, u"k1"_s, 2), "metadata", u"cleanup"_s));
    const Reply r = c.push(mutations);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.results().size(), mutations.size());
    for (const QJsonValue &result : r.results()) {
        QCOMPARE(result.toObject().value("status"_L1), "applied"_L1);
        QVERIFY(!result.toObject().contains("metadata"_L1));
    }
    const Reply feed = c.pull(u"todos"_s, u"v1:0"_s);
    QCOMPARE(feed.changes().size(), values.size());
    QVERIFY(!feed.body.contains("metadata") && !feed.body.contains("bulk edit"));
    QCOMPARE(c.fetch(u"todos"_s, u"k0"_s).json.value("data"_L1).toObject(),
             (QJsonObject { { "n"_L1, 9 } }));
    // A replay returns the stored results, metadata or not.
    QCOMPARE(c.push(mutations).results(), r.results());
}

void tst_Server::unauthorizedRequests_data()
{
    QTest::addColumn<QByteArray>("authorization");
    QTest::newRow("no Authorization header") << QByteArray();
    QTest::newRow("an unknown token") << QByteArray("Bearer mallory-token");
    QTest::newRow("a known token in another case") << QByteArray("Bearer ALICE-TOKEN");
    QTest::newRow("a known token under another scheme") << QByteArray("Basic alice-token");
    QTest::newRow("a known token without a scheme") << QByteArray("alice-token");
    QTest::newRow("Bearer without a token") << QByteArray("Bearer");
    QTest::newRow("a prefix of a known token") << QByteArray("Bearer alice");
}

void tst_Server::unauthorizedRequests()
{
    QFETCH(QByteArray, authorization);
    m_server = newServer();
    m_server->setExtraArguments({ u"--tokens"_s, tokensFile(m_server.get()) });
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    Client alice = client("alice-token");
    QCOMPARE(alice.push({ insertOp(u"m1"_s, u"secret"_s, { { "pin"_L1, 1234 } }) }).status, 200);

    const QByteArray header =
            authorization.isEmpty() ? QByteArray() : "Authorization: " + authorization + "\r\n";
    const QByteArray body = pushBody({ insertOp(u"m2"_s, u"intruder"_s, {}) });
    const QList<QByteArray> requests {
        "POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + header
                + "Content-Type: application/json\r\nContent-Length: "
                + QByteArray::number(body.size()) + "\r\n\r\n" + body,
        "GET /v1/changes?collection=todos HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                + header + "\r\n",
        "GET /v1/changes?collection=todos&since=v1:0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Connection: close\r\n"
                + header + "\r\n",
        "GET /v1/record?collection=todos&key=secret HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Connection: close\r\n"
                + header + "\r\n",
    };
    for (const QByteArray &request : requests) {
        const Reply r = rawRequest(m_server->port(), request);
        QCOMPARE(r.status, 401);
        QCOMPARE(r.json.keys(), QStringList { u"error"_s }); // and no data
        QCOMPARE(r.errorCode(), u"unauthorized"_s);
        QVERIFY(r.header("WWW-Authenticate").startsWith("Bearer"));
        QVERIFY(!r.body.contains("secret"));
    }
    // Nothing was written.
    QCOMPARE(alice.records(u"todos"_s).keys(), QStringList { u"secret"_s });
}

void tst_Server::usersSeeOnlyTheirOwnRecords()
{
    m_server = newServer();
    m_server->setExtraArguments({ u"--tokens"_s, tokensFile(m_server.get()) });
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    Client alice = client("alice-token");
    Client bob = client("bob-token");
    const Reply mine = alice.push({ insertOp(u"same-id"_s, u"k"_s, { { "owner"_L1, "alice"_L1 } }),
                                    insertOp(u"a2"_s, u"only-alice"_s, { { "pin"_L1, 1234 } }) });
    QCOMPARE(mine.status, 200);

    // Bob sees none of it: not in the feed, not through a conflict.
    QCOMPARE(bob.pull(u"todos"_s).changes().size(), 0);
    QCOMPARE(bob.pull(u"todos"_s, u"v1:0"_s).changes().size(), 0);
    const Reply probe = bob.push(
            { updateOp(u"b1"_s, u"only-alice"_s, { { "pin"_L1, 0 } }, versionOf(mine.result(1))) });
    QCOMPARE(probe.result(0).value("status"_L1), "conflict"_L1);
    QVERIFY(probe.result(0).value("record"_L1).isNull());
    QCOMPARE(probe.result(0).value("deleted"_L1), true);
    QCOMPARE(versionOf(probe.result(0)), 0);
    QVERIFY(!probe.body.contains("1234"));
    const Reply fetched = bob.fetch(u"todos"_s, u"only-alice"_s);
    QCOMPARE(fetched.json,
             (QJsonObject { { "status"_L1, "missing"_L1 }, { "key"_L1, "only-alice"_L1 } }));
    QCOMPARE(alice.fetch(u"todos"_s, u"only-alice"_s).json.value("data"_L1).toObject(),
             (QJsonObject { { "pin"_L1, 1234 } }));

    // The same key and the same mutation id are Bob's own.
    const Reply his = bob.push({ insertOp(u"same-id"_s, u"k"_s, { { "owner"_L1, "bob"_L1 } }) });
    QCOMPARE(his.result(0).value("status"_L1), "applied"_L1);
    QVERIFY(versionOf(his.result(0)) > versionOf(mine.result(1)));

    const auto aliceRecords = alice.records(u"todos"_s);
    QCOMPARE(aliceRecords.keys(), (QStringList { u"k"_s, u"only-alice"_s }));
    QCOMPARE(aliceRecords.value(u"k"_s).value("data"_L1).toObject().value("owner"_L1), "alice"_L1);
    QCOMPARE(aliceRecords.value(u"only-alice"_s).value("data"_L1).toObject().value("pin"_L1), 1234);
    const auto bobRecords = bob.records(u"todos"_s);
    QCOMPARE(bobRecords.keys(), QStringList { u"k"_s });
    QCOMPARE(bobRecords.value(u"k"_s).value("data"_L1).toObject().value("owner"_L1), "bob"_L1);
}

void tst_Server::tokensNeverReachTheLog()
{
    m_server = newServer();
    m_server->setExtraArguments({ u"--tokens"_s, tokensFile(m_server.get()) });
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(u"QT_LOGGING_RULES"_s, u"synq.*=true"_s); // debug: one line per request
    m_server->setProcessEnvironment(environment);
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    QCOMPARE(client("alice-token").push({ insertOp(u"m1"_s, u"k"_s, {}) }).status, 200);
    QCOMPARE(client("alice-token").pull(u"todos"_s).status, 200);
    QCOMPARE(client("mallory-token").pull(u"todos"_s).status, 401);
    QCOMPARE(m_server->stop(), 0);
    const QByteArray log = m_server->standardError();
    QVERIFY2(log.contains("/v1/push") && log.contains("/v1/changes") && log.contains("401"),
             log.constData()); // the requests were logged...
    QVERIFY2(!log.contains("alice-token") && !log.contains("mallory-token"), log.constData());
}

void tst_Server::malformedRequests_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("message"); // a part of error.message

    const QJsonObject good = insertOp(u"m"_s, u"k"_s, { { "title"_L1, "t"_L1 } });
    const QJsonArray one { good };
    auto push = [](const QByteArray &body) {
        return rawPost("/v1/push", "application/json", body);
    };
    auto bad = [&](const char *tag, const QByteArray &body, const char *message, int status = 400) {
        QTest::newRow(tag) << push(body) << status
                           << (status == 413 ? u"too-large"_s : u"validation"_s)
                           << QString::fromUtf8(message);
    };
    auto badSecond = [&](const char *tag, const QJsonValue &mutation, const char *message) {
        bad(tag, withBadSecond(mutation), message);
    };

    bad("a body that is not JSON", "{\"batch\": \"b\", \"mutations\": [", "body: not valid JSON");
    bad("an empty body", "", "body: not valid JSON");
    bad("a body of invalid UTF-8", "{\"batch\": \"\xff\xfe\", \"mutations\": []}",
        "body: not valid JSON");
    bad("a JSON array", "[]", "body: not a JSON object");
    bad("a JSON string", "\"push\"", "body: not");
    bad("a missing batch id", json({ { "mutations"_L1, one } }), "batch: missing");
    bad("a batch id that is a number", json({ { "batch"_L1, 5 }, { "mutations"_L1, one } }),
        "batch: not a string");
    bad("a batch id of 129 characters",
        json({ { "batch"_L1, QString(129, u'b') }, { "mutations"_L1, one } }),
        "batch: must be 1 to 128 characters");
    bad("a client id that is an object",
        json({ { "client"_L1, QJsonObject() }, { "batch"_L1, "b"_L1 }, { "mutations"_L1, one } }),
        "client: not a string");
    bad("missing mutations", json({ { "batch"_L1, "b"_L1 } }), "mutations: missing");
    bad("mutations that are an object", json({ { "batch"_L1, "b"_L1 }, { "mutations"_L1, good } }),
        "mutations: not an array");
    bad("no mutations", json({ { "batch"_L1, "b"_L1 }, { "mutations"_L1, QJsonArray() } }),
        "mutations: empty");
    badSecond("a mutation that is a string", u"insert"_s, "mutations[1]: not an object");
    badSecond("a mutation without id", without(good, "id"), "mutations[1].id: missing");
    badSecond("an empty mutation id", with(good, "id", ""_L1), "mutations[1].id: must be 1 to 128");
    badSecond("a mutation id of 129 characters", with(good, "id", QString(129, u'i')),
              "mutations[1].id: must be 1 to 128");
    badSecond("a mutation id that is a number", with(good, "id", 7),
              "mutations[1].id: not a string");
    badSecond("the same mutation id twice", with(good, "id", "good"_L1),
              "mutations[1].id: the same id as mutations[0]");
    badSecond("a mutation without tx", without(good, "tx"), "mutations[1].tx: missing");
    badSecond("a tx of 129 characters", with(good, "tx", QString(129, u't')),
              "mutations[1].tx: must be 1 to 128");
    {
        const QJsonArray split { with(good, "tx", "A"_L1),
                                 with(with(good, "id", "m2"_L1), "tx", "B"_L1),
                                 with(with(good, "id", "m3"_L1), "tx", "A"_L1) };
        bad("a transaction split by another",
            json({ { "batch"_L1, "b"_L1 }, { "mutations"_L1, split } }),
            "mutations[2].tx: transaction A is not adjacent");
    }
    badSecond("a collection with a dash", with(good, "collection", "to-dos"_L1),
              "mutations[1].collection: not an identifier");
    badSecond("a collection starting with a digit", with(good, "collection", "1todos"_L1),
              "mutations[1].collection: not an identifier");
    badSecond("a collection named like SQLite's own", with(good, "collection", "sqlite_master"_L1),
              "mutations[1].collection: not an identifier");
    badSecond("a collection of 65 characters", with(good, "collection", QString(65, u'c')),
              "mutations[1].collection: not an identifier");
    badSecond("a collection that looks like SQL",
              with(good, "collection", "todos; DROP TABLE records"_L1),
              "mutations[1].collection: not an identifier");
    badSecond("a missing collection", without(good, "collection"),
              "mutations[1].collection: missing");
    badSecond("a collection that is null", with(good, "collection", QJsonValue::Null),
              "mutations[1].collection: not a string");
    badSecond("an unknown op", with(good, "op", "upsert"_L1), "mutations[1].op: must be");
    badSecond("an op in capitals", with(good, "op", "INSERT"_L1), "mutations[1].op: must be");
    badSecond("a missing op", without(good, "op"), "mutations[1].op: missing");
    badSecond("a missing key", without(good, "key"), "mutations[1].key: missing");
    badSecond("an empty key", with(good, "key", ""_L1), "mutations[1].key: must be 1 to 512");
    badSecond("a key of 513 characters", with(good, "key", QString(513, u'k')),
              "mutations[1].key: must be 1 to 512");
    badSecond("a key that is a number", with(good, "key", 5), "mutations[1].key: not a string");
    badSecond("a key with a NUL character", with(good, "key", u"a\u0000b"_s),
              "mutations[1].key: contains NUL");
    badSecond("a missing baseVersion", without(good, "baseVersion"),
              "mutations[1].baseVersion: missing");
    badSecond("a negative baseVersion", with(good, "baseVersion", -1),
              "mutations[1].baseVersion: not an integer");
    badSecond("a fractional baseVersion", with(good, "baseVersion", 1.5),
              "mutations[1].baseVersion: not an integer");
    badSecond("a baseVersion that is a string", with(good, "baseVersion", "3"_L1),
              "mutations[1].baseVersion: not an integer");
    badSecond("a baseVersion beyond 2^53", with(good, "baseVersion", 1e300),
              "mutations[1].baseVersion: not an integer");
    badSecond("an insert without data", without(good, "data"), "mutations[1].data: missing");
    badSecond("an insert whose data is an array", with(good, "data", QJsonArray { 1 }),
              "mutations[1].data: not an object");
    badSecond("an insert whose data is null", with(good, "data", QJsonValue::Null),
              "mutations[1].data: not an object");
    const QJsonObject update = updateOp(u"u"_s, u"k"_s, { { "a"_L1, 1 } }, 1);
    badSecond("an update without changes", without(update, "changes"),
              "mutations[1].changes: missing");
    badSecond("an update with empty changes", with(update, "changes", QJsonObject()),
              "mutations[1].changes: empty");
    badSecond("an update whose changes are a string", with(update, "changes", "a=1"_L1),
              "mutations[1].changes: not an object");
    badSecond("an hlc that is a number", with(good, "hlc", 1764766000000.0),
              "mutations[1].hlc: not a string");
    badSecond("an hlc that is an object", with(good, "hlc", QJsonObject()),
              "mutations[1].hlc: not a string");
    badSecond("an empty hlc", with(good, "hlc", ""_L1),
              "mutations[1].hlc: not a hybrid logical clock stamp");
    badSecond("an hlc that is a date", with(good, "hlc", "2025-12-03T12:46:40Z"_L1),
              "mutations[1].hlc: not a hybrid logical clock stamp");
    badSecond("an hlc without a node", with(good, "hlc", "001764766000000:000003"_L1),
              "mutations[1].hlc: not a hybrid logical clock stamp");
    badSecond("an hlc with a NUL in its node",
              with(good, "hlc", u"001764766000000:000003:a\u0000b"_s),
              "mutations[1].hlc: contains NUL");
    badSecond("an hlc whose node is too long",
              with(good, "hlc", u"001764766000000:000003:"_s + QString(129, u'n')),
              "mutations[1].hlc: must be at most 151 characters");
    badSecond("an hlc on an update that is not a stamp", with(update, "hlc", "late"_L1),
              "mutations[1].hlc: not a hybrid logical clock stamp");
    {
        QJsonArray many;
        for (int i = 0; i < 501; ++i)
            many.append(insertOp(u"m%1"_s.arg(i), u"k%1"_s.arg(i), {}));
        bad("501 mutations", json({ { "batch"_L1, "b"_L1 }, { "mutations"_L1, many } }),
            "501 items, at most 500", 413);
    }

    const QByteArray valid = pushBody(one);
    auto row = [](const char *tag, const QByteArray &request, int status, const char *code,
                  const char *message) {
        QTest::newRow(tag) << request << status << QString::fromLatin1(code)
                           << QString::fromLatin1(message);
    };
    row("a push sent as text/plain", rawPost("/v1/push", "text/plain", valid), 415,
        "unsupported-media-type", "application/json");
    row("a push sent as a form", rawPost("/v1/push", "application/x-www-form-urlencoded", valid),
        415, "unsupported-media-type", "application/json");
    row("a push without Content-Type", rawPost("/v1/push", QByteArray(), valid), 415,
        "unsupported-media-type", "application/json");
    row("a push with a JSON-ish Content-Type", rawPost("/v1/push", "application/jsonp", valid), 415,
        "unsupported-media-type", "application/json");
    row("a body over 4 MiB", rawPost("/v1/push", "application/json", QByteArray(MaxBody + 1, ' ')),
        413, "too-large", "exceeds");

    row("an unknown path", rawRequestLine("GET", "/v2/changes?collection=todos"), 404, "not-found",
        "/v2/changes");
    row("the root path", rawRequestLine("GET", "/"), 404, "not-found", "no such path");
    row("a push path with a trailing slash", rawPost("/v1/push/", "application/json", valid), 404,
        "not-found", "no such path");
    row("GET on push", rawRequestLine("GET", "/v1/push"), 405, "method-not-allowed", "POST");
    row("PUT on push", rawPost("/v1/push", "application/json", valid).replace(0, 4, "PUT"), 405,
        "method-not-allowed", "POST");
    row("POST on changes", rawPost("/v1/changes?collection=todos", "application/json", valid), 405,
        "method-not-allowed", "GET");
    row("DELETE on health", rawRequestLine("DELETE", "/v1/health"), 405, "method-not-allowed",
        "GET");
    row("POST on record", rawPost("/v1/record?collection=todos&key=k", "application/json", valid),
        405, "method-not-allowed", "GET");
    row("DELETE on record", rawRequestLine("DELETE", "/v1/record?collection=todos&key=k"), 405,
        "method-not-allowed", "GET");
    row("a record path with a trailing slash",
        rawRequestLine("GET", "/v1/record/?collection=todos&key=k"), 404, "not-found",
        "no such path");
    row("a record path with the key in it", rawRequestLine("GET", "/v1/record/todos/k"), 404,
        "not-found", "no such path");

    auto pull = [&](const char *tag, const QByteArray &query, const char *message) {
        row(tag, rawRequestLine("GET", "/v1/changes" + query), 400, "validation", message);
    };
    pull("a pull without collection", "", "collection: missing");
    pull("a pull with an empty collection", "?collection=", "collection: not an identifier");
    pull("a pull of a collection that is not an identifier", "?collection=to-dos",
         "collection: not an identifier");
    pull("a pull of a collection that looks like SQL", "?collection=todos%27%3B%20DROP",
         "collection: not an identifier");
    pull("a cursor from another server", "?collection=todos&since=abc", "since:");
    pull("a cursor of another format version", "?collection=todos&since=v2:5", "since:");
    pull("a cursor without a version", "?collection=todos&since=v1:", "since:");
    pull("a cursor with a negative version", "?collection=todos&since=v1:-1", "since:");
    pull("a cursor with trailing garbage", "?collection=todos&since=v1:5x", "since:");
    pull("a cursor with a huge version", "?collection=todos&since=v1:99999999999999999999",
         "since:");
    pull("a snapshot cursor listed beyond its version", "?collection=todos&since=v1:5:9", "since:");
    pull("a limit of 0", "?collection=todos&limit=0", "limit:");
    pull("a limit of 1001", "?collection=todos&limit=1001", "limit:");
    pull("a negative limit", "?collection=todos&limit=-1", "limit:");
    pull("a limit that is not a number", "?collection=todos&limit=ten", "limit:");
    pull("an empty limit", "?collection=todos&limit=", "limit:");

    auto fetch = [&](const char *tag, const QByteArray &query, const char *message) {
        row(tag, rawRequestLine("GET", "/v1/record" + query), 400, "validation", message);
    };
    fetch("a fetch without a query", "", "collection: missing");
    fetch("a fetch without collection", "?key=k", "collection: missing");
    fetch("a fetch without key", "?collection=todos", "key: missing");
    fetch("a fetch with an empty collection", "?collection=&key=k",
          "collection: not an identifier");
    fetch("a fetch of a collection that is not an identifier", "?collection=to-dos&key=k",
          "collection: not an identifier");
    fetch("a fetch of a collection that looks like SQL", "?collection=todos%27%3B%20DROP&key=k",
          "collection: not an identifier");
    fetch("a fetch of SQLite's own table", "?collection=sqlite_master&key=k",
          "collection: not an identifier");
    fetch("a fetch with an empty key", "?collection=todos&key=", "key: must be 1 to 512");
    fetch("a fetch of a key of 513 characters", "?collection=todos&key=" + QByteArray(513, 'k'),
          "key: must be 1 to 512");
    fetch("a fetch of a key with a NUL character", "?collection=todos&key=a%00b",
          "key: contains NUL");
}

void tst_Server::malformedRequests()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);
    QFETCH(QString, code);
    QFETCH(QString, message);
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));

    const Reply r = rawRequest(m_server->port(), request);
    QVERIFY2(r.failure.isEmpty(), qPrintable(r.failure));
    QCOMPARE(r.status, status);
    QCOMPARE(r.header("Content-Type"), "application/json");
    QCOMPARE(r.json.keys(), QStringList { u"error"_s });
    QCOMPARE(r.errorCode(), code);
    QVERIFY2(r.error().value("message"_L1).toString().contains(message), qPrintable(r.describe()));
    QCOMPARE(r.error().value("retryable"_L1), QJsonValue(status == 413));
    if (status == 405)
        QVERIFY(!r.header("Allow").isEmpty());

    // Nothing was written, no version was used up, and the server still serves.
    Client c = client();
    QCOMPARE(c.pull(u"todos"_s).changes().size(), 0);
    const Reply next = c.push({ insertOp(u"after"_s, u"after"_s, {}) });
    QCOMPARE(next.status, 200);
    QCOMPARE(versionOf(next.result(0)), 1);
}

void tst_Server::bodyOfExactly4MiBIsAccepted()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    auto body = [](qsizetype padding) {
        return pushBody({ insertOp(u"big"_s, u"big"_s, { { "pad"_L1, QString(padding, u'x') } }) });
    };
    const QByteArray exact = body(MaxBody - body(0).size());
    QCOMPARE(exact.size(), MaxBody);
    Client c = client();
    const Reply r = c.send("POST", u"/v1/push"_s, QUrlQuery(), exact, "application/json");
    QCOMPARE(r.status, 200);
    QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
    QCOMPARE(c.pull(u"todos"_s)
                     .changes()
                     .at(0)
                     .toObject()
                     .value("data"_L1)
                     .toObject()
                     .value("pad"_L1)
                     .toString()
                     .size(),
             MaxBody - body(0).size());
    // One byte more is too much.
    const Reply over = c.send("POST", u"/v1/push"_s, QUrlQuery(),
                              body(MaxBody - body(0).size() + 1), "application/json");
    QVERIFY2(over.status == 413, qPrintable(over.describe()));
    QCOMPARE(over.errorCode(), u"too-large"_s);
}

void tst_Server::oversizedBodyIsRefusedBeforeItArrives()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    // Headers only: the 413 comes without a byte of the announced gigabyte being sent.
    const Reply r = rawRequest(m_server->port(),
                               "POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 1073741824\r\n\r\n");
    QVERIFY2(r.failure.isEmpty(), qPrintable(r.failure));
    QCOMPARE(r.status, 413);
    QCOMPARE(r.errorCode(), u"too-large"_s);
    QCOMPARE(r.error().value("retryable"_L1), true);
    QCOMPARE(client().send("GET", u"/v1/health"_s).status, 200);
}

void tst_Server::oversizedChunkedBodyIsRefused()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    QByteArray request = "POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    const QByteArray chunk =
            QByteArray::number(64 * 1024, 16) + "\r\n" + QByteArray(64 * 1024, ' ') + "\r\n";
    for (int i = 0; i < 80; ++i) // 5 MiB
        request += chunk;
    request += "0\r\n\r\n";
    const Reply r = rawRequest(m_server->port(), request);
    QVERIFY2(r.failure.isEmpty(), qPrintable(r.failure));
    QCOMPARE(r.status, 413);
    QCOMPARE(r.errorCode(), u"too-large"_s);
    QCOMPARE(client().send("GET", u"/v1/health"_s).status, 200);
}

void tst_Server::expectContinueIsAnswered()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    const QByteArray body = pushBody({ insertOp(u"m"_s, u"k"_s, {}) });
    QTcpSocket socket;
    socket.connectToHost(QHostAddress(QHostAddress::LocalHost), m_server->port());
    QVERIFY(socket.waitForConnected(RequestTimeoutMs));
    socket.write("POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 "Expect: 100-continue\r\nContent-Length: "
                 + QByteArray::number(body.size()) + "\r\n\r\n");
    // The body follows only once the server asked for it.
    QByteArray received;
    QDeadlineTimer deadline(RequestTimeoutMs);
    while (!received.contains("\r\n\r\n") && !deadline.hasExpired()
           && socket.state() == QAbstractSocket::ConnectedState) {
        socket.waitForReadyRead(500);
        received += socket.readAll();
    }
    QCOMPARE(received, "HTTP/1.1 100 Continue\r\n\r\n");
    socket.write(body);
    received.clear();
    Reply r;
    while (!parseResponse(received, &r) && !deadline.hasExpired()
           && socket.state() == QAbstractSocket::ConnectedState) {
        socket.waitForReadyRead(500);
        received += socket.readAll();
    }
    QCOMPARE(r.status, 200);
    QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
}

void tst_Server::survivesGarbageAndAbandonedConnections()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    const QList<QByteArray> garbage {
        "GARBAGE\x01\x02\r\n\r\n",
        QByteArray(100000, '\xff'),
        "POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"batch\"",
        "GET /v1/health HTTP/1.1\r\nHost: 127",
        "POST /v1/push HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    };
    for (const QByteArray &bytes : garbage) {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress(QHostAddress::LocalHost), m_server->port());
        QVERIFY(socket.waitForConnected(RequestTimeoutMs));
        socket.write(bytes);
        QVERIFY(socket.waitForBytesWritten(RequestTimeoutMs));
        socket.abort(); // gone mid-request
    }
    Client c = client();
    QCOMPARE(c.send("GET", u"/v1/health"_s).status, 200);
    QCOMPARE(c.push({ insertOp(u"m"_s, u"k"_s, {}) }).result(0).value("status"_L1), "applied"_L1);
    QCOMPARE(c.records(u"todos"_s).keys(), QStringList { u"k"_s });
}

void tst_Server::serverAssignedKeys()
{
    QVERIFY2(startServer({ u"--server-assigned-keys"_s, u"todos,projects"_s }),
             qPrintable(m_server->errorString()));
    Client c = client();
    const QJsonArray batch {
        insertOp(u"m1"_s, u"tmp-1"_s, { { "id"_L1, "tmp-1"_L1 }, { "title"_L1, "Milk"_L1 } }),
        insertOp(u"m2"_s, u"tmp-2"_s, { { "title"_L1, "Eggs"_L1 } }),
        insertOp(u"m3"_s, u"n1"_s, { { "id"_L1, "n1"_L1 } }, 0, u"notes"_s),
    };
    const Reply r = c.push(batch);
    QCOMPARE(r.status, 200);
    const QString key1 = r.result(0).value("key"_L1).toString();
    const QString key2 = r.result(1).value("key"_L1).toString();
    QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
    QVERIFY(!key1.isEmpty() && key1 != "tmp-1"_L1);
    QVERIFY(!key2.isEmpty() && key2 != "tmp-2"_L1 && key2 != key1);
    QCOMPARE(r.result(2).value("key"_L1), "n1"_L1); // not a server-assigned collection

    const auto records = c.records(u"todos"_s);
    QCOMPARE(records.keys().size(), 2);
    QCOMPARE(records.value(key1).value("data"_L1).toObject(),
             (QJsonObject { { "id"_L1, key1 }, { "title"_L1, "Milk"_L1 } }));
    QCOMPARE(records.value(key2).value("data"_L1).toObject(),
             (QJsonObject { { "id"_L1, key2 }, { "title"_L1, "Eggs"_L1 } }));

    // Sent again (the reply was lost, say): the same keys, nothing new.
    const Reply again = c.push(batch);
    QCOMPARE(again.results(), r.results());
    QCOMPARE(c.records(u"todos"_s).size(), 2);
    // Across a restart too.
    QVERIFY2(m_server->restart(), qPrintable(m_server->errorString()));
    c.setBase(m_server->url());
    QCOMPARE(c.push(batch).results(), r.results());

    // The server's key is the key from then on.
    const Reply update =
            c.push({ updateOp(u"m4"_s, key1, { { "done"_L1, true } }, versionOf(r.result(0))) });
    QCOMPARE(update.result(0).value("status"_L1), "applied"_L1);
    QCOMPARE(update.result(0).value("key"_L1).toString(), key1);
}

void tst_Server::serverAssignedKeyIsUsedByLaterMutationsOfTheBatch()
{
    QVERIFY2(startServer({ u"--server-assigned-keys"_s, u"todos"_s }),
             qPrintable(m_server->errorString()));
    Client c = client();
    const QJsonArray batch { insertOp(u"m1"_s, u"tmp"_s, { { "title"_L1, "Milk"_L1 } }),
                             updateOp(u"m2"_s, u"tmp"_s, { { "done"_L1, true } }, 0),
                             updateOp(u"m3"_s, u"tmp"_s, { { "n"_L1, 3 } }, 0) };
    const Reply r = c.push(batch);
    QCOMPARE(r.status, 200);
    const QString key = r.result(0).value("key"_L1).toString();
    QVERIFY(key != "tmp"_L1);
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(r.result(i).value("status"_L1), "applied"_L1);
        QCOMPARE(r.result(i).value("key"_L1).toString(), key);
    }
    const auto records = c.records(u"todos"_s);
    QCOMPARE(records.keys(), QStringList { key });
    QCOMPARE(records.value(key).value("data"_L1).toObject(),
             (QJsonObject { { "id"_L1, key },
                            { "title"_L1, "Milk"_L1 },
                            { "done"_L1, true },
                            { "n"_L1, 3 } }));
    // Resent with one more mutation on the temporary key: the stored results, then the new one
    // goes to the server's key.
    QJsonArray more = batch;
    more.append(updateOp(u"m4"_s, u"tmp"_s, { { "n"_L1, 4 } }, 0));
    const Reply again = c.push(more);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(again.result(i), r.result(i));
    QCOMPARE(again.result(3).value("status"_L1), "applied"_L1);
    QCOMPARE(again.result(3).value("key"_L1).toString(), key);
}

// A transaction rolled back to its savepoint takes its server-assigned keys and produced
// versions with it: later transactions of the batch see the records as they are.
void tst_Server::rolledBackTransactionLeavesNoKeysOrVersionsToLaterOnes()
{
    QVERIFY2(startServer({ u"--server-assigned-keys"_s, u"todos"_s }),
             qPrintable(m_server->errorString()));
    Client c = client();
    QCOMPARE(c.push({ insertOp(u"m0"_s, u"n1"_s, {}, 0, u"notes"_s) }).status, 200); // version 1
    const QJsonArray batch {
        // t1: a new todo (its key assigned), a note update at the right version, then a
        // conflict — all of t1 is rolled back.
        insertOp(u"m1"_s, u"tmp"_s, { { "title"_L1, "Milk"_L1 } }, 0, u"todos"_s, u"t1"_s),
        updateOp(u"m2"_s, u"n1"_s, { { "text"_L1, "t1"_L1 } }, 1, u"notes"_s, u"t1"_s),
        updateOp(u"m3"_s, u"missing"_s, { { "x"_L1, 1 } }, 0, u"notes"_s, u"t1"_s),
        // t2 names the same keys: "tmp" is not the key t1 was given, and n1 is still at 1.
        updateOp(u"m4"_s, u"tmp"_s, { { "done"_L1, true } }, 0, u"todos"_s, u"t2"_s),
        updateOp(u"m5"_s, u"n1"_s, { { "text"_L1, "t2"_L1 } }, 1, u"notes"_s, u"t3"_s),
    };
    const Reply r = c.push(batch);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.result(0).value("status"_L1), "rejected"_L1);
    QCOMPARE(r.result(1).value("status"_L1), "rejected"_L1);
    QCOMPARE(r.result(2).value("status"_L1), "conflict"_L1);
    QCOMPARE(r.result(3).value("status"_L1), "conflict"_L1); // no record "tmp"
    QCOMPARE(r.result(3).value("key"_L1).toString(), u"tmp"_s);
    QCOMPARE(r.result(4).value("status"_L1), "applied"_L1); // checked against version 1
    QCOMPARE(c.records(u"todos"_s).size(), 0);
}

void tst_Server::keysAndDataRoundTrip_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<QJsonObject>("data");
    QTest::newRow("a UUID") << u"0192f1c3-7a6b-7cde-8f01-23456789abcd"_s
                            << QJsonObject { { "title"_L1, "Milk"_L1 } };
    QTest::newRow("a key in Cyrillic") << u"ключ"_s << QJsonObject { { "title"_L1, u"молоко"_s } };
    QTest::newRow("a key with an emoji") << u"🥛 milk"_s << QJsonObject { { "e"_L1, u"🥚"_s } };
    QTest::newRow("a key with URL and SQL characters")
            << u"a/b?c=d&e%20f'; DROP TABLE records; --"_s << QJsonObject { { "n"_L1, 1 } };
    QTest::newRow("a key of 512 characters") << QString(512, u'k') << QJsonObject();
    QTest::newRow("nested data with every JSON type")
            << u"k"_s
            << QJsonObject {
                   { "s"_L1, "x"_L1 },
                   { "n"_L1, 1.5 },
                   { "i"_L1, 9007199254740991LL },
                   { "b"_L1, false },
                   { "z"_L1, QJsonValue::Null },
                   { "a"_L1, QJsonArray { 1, "two"_L1, QJsonObject { { "three"_L1, 3 } } } },
                   { "o"_L1, QJsonObject { { "deep"_L1, QJsonObject { { "er"_L1, true } } } } }
               };
    QTest::newRow("data with a NUL in a string")
            << u"k"_s << QJsonObject { { "s"_L1, u"a\u0000b"_s } };
}

void tst_Server::keysAndDataRoundTrip()
{
    QFETCH(QString, key);
    QFETCH(QJsonObject, data);
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    const Reply r = c.push({ insertOp(u"m"_s, key, data) });
    QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
    QCOMPARE(r.result(0).value("key"_L1).toString(), key);
    const auto records = c.records(u"todos"_s);
    QCOMPARE(records.keys(), QStringList { key });
    QCOMPARE(records.value(key).value("data"_L1).toObject(), data);
    Reply fetched = c.fetch(u"todos"_s, key);
    QCOMPARE(fetched.json.value("status"_L1), "found"_L1);
    QCOMPARE(fetched.json.value("key"_L1).toString(), key);
    QCOMPARE(fetched.json.value("data"_L1).toObject(), data);
    QCOMPARE(
            c.push({ updateOp(u"u"_s, key, { { "more"_L1, 1 } }, 1) }).result(0).value("status"_L1),
            "applied"_L1);
    QCOMPARE(c.push({ removeOp(u"r"_s, key, 2) }).result(0).value("status"_L1), "applied"_L1);
    fetched = c.fetch(u"todos"_s, key);
    QCOMPARE(fetched.json,
             (QJsonObject { { "status"_L1, "gone"_L1 }, { "key"_L1, key }, { "version"_L1, 3 } }));
    const Reply feed = c.pull(u"todos"_s, u"v1:1"_s);
    QCOMPARE(feed.changes().size(), 1);
    QCOMPARE(feed.changes().at(0).toObject().value("key"_L1).toString(), key);
}

/*
    The stamp of each applied write is kept with the record or tombstone it made: an applied
    result gives it back, a conflict carries the stamp of the write that made the server's
    state, the change feed the stamp of each version, and a replay its stored result with it.
*/
void tst_Server::stampsAreKeptWithRecordsAndTombstones()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    const QJsonObject insert =
            stamped(insertOp(u"m1"_s, u"k"_s, { { "title"_L1, "Milk"_L1 } }), StampA);
    Reply r = c.push({ insert });
    QCOMPARE(r.status, 200);
    QCOMPARE(r.result(0),
             (QJsonObject { { "id"_L1, "m1"_L1 },
                            { "status"_L1, "applied"_L1 },
                            { "key"_L1, "k"_L1 },
                            { "version"_L1, 1 },
                            { "hlc"_L1, StampA } }));

    // Another device's update made on version 0: the conflict carries the insert's stamp.
    r = c.push({ stamped(updateOp(u"m2"_s, u"k"_s, { { "title"_L1, "Oat"_L1 } }, 0), StampB) });
    QCOMPARE(r.result(0).value("status"_L1), "conflict"_L1);
    QCOMPARE(r.result(0).value("hlc"_L1), QJsonValue(StampA));
    QCOMPARE(r.result(0).value("record"_L1).toObject(),
             (QJsonObject { { "title"_L1, "Milk"_L1 } }));

    // Rebased, it is applied and its stamp replaces the insert's.
    r = c.push({ stamped(updateOp(u"m2"_s, u"k"_s, { { "title"_L1, "Oat"_L1 } }, 1), StampB) });
    QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
    QCOMPARE(r.result(0).value("hlc"_L1), QJsonValue(StampB));
    QCOMPARE(c.records(u"todos"_s).value(u"k"_s).value("hlc"_L1), QJsonValue(StampB));
    r = c.push({ stamped(insertOp(u"m3"_s, u"k"_s, { { "title"_L1, "Tea"_L1 } }), StampC) });
    QCOMPARE(r.result(0).value("status"_L1), "conflict"_L1);
    QCOMPARE(r.result(0).value("hlc"_L1), QJsonValue(StampB));

    // A remove's stamp stays with the tombstone: in a conflict on it and in the feed.
    r = c.push({ stamped(removeOp(u"m4"_s, u"k"_s, 2), StampC) });
    QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
    QCOMPARE(r.result(0).value("hlc"_L1), QJsonValue(StampC));
    r = c.push({ stamped(updateOp(u"m5"_s, u"k"_s, { { "title"_L1, "Jam"_L1 } }, 2), StampA) });
    QCOMPARE(r.result(0).value("status"_L1), "conflict"_L1);
    QCOMPARE(r.result(0).value("deleted"_L1), true);
    QCOMPARE(versionOf(r.result(0)), 3);
    QCOMPARE(r.result(0).value("hlc"_L1), QJsonValue(StampC));
    const Reply feed = c.pull(u"todos"_s, u"v1:1"_s);
    QCOMPARE(feed.status, 200);
    QCOMPARE(feed.changes().size(), 1);
    QCOMPARE(feed.changes().at(0).toObject(),
             (QJsonObject { { "collection"_L1, "todos"_L1 },
                            { "key"_L1, "k"_L1 },
                            { "version"_L1, 3 },
                            { "op"_L1, "delete"_L1 },
                            { "data"_L1, QJsonValue(QJsonValue::Null) },
                            { "hlc"_L1, StampC } }));

    // A replay returns the stored result, stamp included, also after a restart; nothing is
    // written again, not even the stamp the replay carries now.
    QVERIFY2(m_server->restart(), qPrintable(m_server->errorString()));
    Client again = client();
    r = again.push({ stamped(insert, StampC) });
    QCOMPARE(r.result(0).value("version"_L1), 1);
    QCOMPARE(r.result(0).value("hlc"_L1), QJsonValue(StampA));
    QCOMPARE(again.pull(u"todos"_s, u"v1:0"_s).changes().size(), 1);
}

// A mutation without a stamp (an older client, or hlc null) stores none: the state it makes
// reports no stamp, not the one of the write before it.
void tst_Server::writesWithoutAStampKeepNone()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    Reply r = c.push({ stamped(insertOp(u"m1"_s, u"k"_s, { { "n"_L1, 1 } }), StampA) });
    QCOMPARE(r.result(0).value("hlc"_L1), QJsonValue(StampA));
    r = c.push({ updateOp(u"m2"_s, u"k"_s, { { "n"_L1, 2 } }, 1),
                 with(insertOp(u"m3"_s, u"j"_s, { { "n"_L1, 3 } }), "hlc", QJsonValue::Null) });
    QCOMPARE(r.status, 200);
    for (int i = 0; i < 2; ++i) {
        QCOMPARE(r.result(i).value("status"_L1), "applied"_L1);
        QVERIFY2(!r.result(i).contains("hlc"_L1), qPrintable(r.describe()));
    }
    r = c.push({ stamped(updateOp(u"m4"_s, u"k"_s, { { "n"_L1, 4 } }, 1), StampB) });
    QCOMPARE(r.result(0).value("status"_L1), "conflict"_L1);
    QVERIFY2(!r.result(0).contains("hlc"_L1), qPrintable(r.describe()));
    const auto records = c.records(u"todos"_s);
    QCOMPARE(records.size(), 2);
    for (const QJsonObject &change : records)
        QVERIFY2(!change.contains("hlc"_L1), qPrintable(QString::fromUtf8(json(change))));
}

void tst_Server::stampsOfServerAssignedKeys()
{
    QVERIFY2(startServer({ u"--server-assigned-keys"_s, u"notes"_s }),
             qPrintable(m_server->errorString()));
    Client c = client();
    const Reply r = c.push(
            { stamped(insertOp(u"m1"_s, u"local"_s, { { "t"_L1, "a"_L1 } }, 0, u"notes"_s),
                      StampA),
              stamped(updateOp(u"m2"_s, u"local"_s, { { "t"_L1, "b"_L1 } }, 0, u"notes"_s),
                      StampB) });
    QCOMPARE(r.result(0).value("key"_L1), "s1"_L1);
    QCOMPARE(r.result(0).value("hlc"_L1), QJsonValue(StampA));
    QCOMPARE(r.result(1).value("key"_L1), "s1"_L1);
    QCOMPARE(r.result(1).value("hlc"_L1), QJsonValue(StampB));
    QCOMPARE(c.records(u"notes"_s).value(u"s1"_s).value("hlc"_L1), QJsonValue(StampB));
}

/*
    A database made by a synq-server of schema 1 (no stamps) is upgraded when a newer server
    opens it: its records stay as they were, without a stamp, remembered results still
    answer replays, and new writes keep their stamps. The upgrade runs once.
*/
void tst_Server::schemaOneDatabaseIsUpgraded()
{
    m_server = newServer();
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    {
        QString schema;
        QSqlDatabase db = openDatabase(m_server->database(), u"schema1"_s, &schema);
        QVERIFY2(db.isOpen(), qPrintable(db.lastError().text()));
        const bool sqlite = db.driverName() == "QSQLITE"_L1;
        const QString in = sqlite ? QString() : u"\"%1\"."_s.arg(schema);
        QStringList statements;
        if (!sqlite)
            statements << u"CREATE SCHEMA \"%1\""_s.arg(schema);
        // The tables exactly as synq-server of schema 1 made them.
        statements << u"CREATE TABLE %1records (owner TEXT NOT NULL, collection TEXT NOT NULL,"
                      " key TEXT NOT NULL, version BIGINT NOT NULL, data TEXT,"
                      " deleted INTEGER NOT NULL DEFAULT 0, updated_at BIGINT NOT NULL,"
                      " PRIMARY KEY (owner, collection, key))"_s.arg(in)
                   << u"CREATE INDEX records_feed ON %1records (owner, collection, version)"_s
                              .arg(in)
                   << u"CREATE INDEX records_tombstones ON %1records (deleted, updated_at)"_s
                              .arg(in)
                   << u"CREATE TABLE %1seen_mutations (owner TEXT NOT NULL,"
                      " mutation_id TEXT NOT NULL, result TEXT NOT NULL,"
                      " created_at BIGINT NOT NULL, PRIMARY KEY (owner, mutation_id))"_s.arg(in)
                   << u"CREATE TABLE %1counter (id INTEGER PRIMARY KEY, value BIGINT NOT NULL)"_s
                              .arg(in)
                   << u"CREATE TABLE %1meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL)"_s
                              .arg(in)
                   << u"INSERT INTO %1counter (id, value) VALUES (1, 2)"_s.arg(in)
                   << u"INSERT INTO %1meta (name, value) VALUES ('pruned_version', 0),"
                      " ('schema_version', 1)"_s.arg(in)
                   << u"INSERT INTO %1records VALUES ('', 'todos', 'old', 1,"
                      " '{\"id\":\"old\",\"title\":\"from schema 1\"}', 0, %2),"
                      " ('', 'todos', 'gone', 2, NULL, 1, %2)"_s.arg(in).arg(now)
                   << u"INSERT INTO %1seen_mutations VALUES ('', 'm-old',"
                      " '{\"id\":\"m-old\",\"key\":\"old\",\"status\":\"applied\",\"version\":1}',"
                      " %2)"_s.arg(in).arg(now);
        QSqlQuery query(db);
        for (const QString &sql : std::as_const(statements))
            QVERIFY2(query.exec(sql), qPrintable(sql + u": "_s + query.lastError().text()));
        query = QSqlQuery();
        db.close();
    }
    QSqlDatabase::removeDatabase(u"schema1"_s);

    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    Client c = client();
    const auto before = c.records(u"todos"_s);
    QCOMPARE(before.keys(), QStringList { u"old"_s });
    QCOMPARE(before.value(u"old"_s).value("version"_L1), 1);
    QVERIFY(!before.value(u"old"_s).contains("hlc"_L1));
    Reply r = c.push({ stamped(insertOp(u"m-old"_s, u"old"_s, {}), StampA) });
    QCOMPARE(r.result(0),
             (QJsonObject { { "id"_L1, "m-old"_L1 },
                            { "key"_L1, "old"_L1 },
                            { "status"_L1, "applied"_L1 },
                            { "version"_L1, 1 } }));
    r = c.push({ stamped(updateOp(u"m1"_s, u"gone"_s, { { "n"_L1, 1 } }, 2), StampA) });
    QCOMPARE(r.result(0).value("status"_L1), "conflict"_L1);
    QCOMPARE(r.result(0).value("deleted"_L1), true);
    QVERIFY(!r.result(0).contains("hlc"_L1));
    r = c.push({ stamped(updateOp(u"m2"_s, u"old"_s, { { "n"_L1, 2 } }, 1), StampB) });
    QCOMPARE(r.result(0).value("status"_L1), "applied"_L1);
    QCOMPARE(versionOf(r.result(0)), 3);
    QCOMPARE(r.result(0).value("hlc"_L1), QJsonValue(StampB));

    // Upgraded once: a restart finds schema 2 and keeps the stamp.
    QVERIFY2(m_server->restart(), qPrintable(m_server->errorString()));
    QCOMPARE(client().records(u"todos"_s).value(u"old"_s).value("hlc"_L1), QJsonValue(StampB));
    {
        QString schema;
        QSqlDatabase db = openDatabase(m_server->database(), u"schema2"_s, &schema);
        QVERIFY2(db.isOpen(), qPrintable(db.lastError().text()));
        QSqlQuery query(db);
        QVERIFY2(query.exec(u"SELECT value FROM \"%1\".meta WHERE name = 'schema_version'"_s.arg(
                         schema)),
                 qPrintable(query.lastError().text()));
        QVERIFY(query.next());
        QCOMPARE(query.value(0).toLongLong(), 2);
        query = QSqlQuery();
        db.close();
    }
    QSqlDatabase::removeDatabase(u"schema2"_s);
}

/*
    Each pushed mutation reads its record by (owner, collection, key). A PostgreSQL table that
    was never analyzed gives the planner no statistics, and it then reads the record through the
    feed index (owner, collection, version) — a scan of the whole collection per mutation, so
    that pushes slowed down with every row until autovacuum came by. The server analyzes the
    table itself (ServerStore::refreshStatistics); the plan shows it.
*/
void tst_Server::recordLookupUsesThePrimaryKeyAsTheTableGrows()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    Client c = client();
    for (int batch = 0; batch < 5; ++batch) {
        QJsonArray mutations;
        for (int i = 0; i < 500; ++i) {
            const QString key = u"k%1.%2"_s.arg(batch).arg(i);
            mutations.append(insertOp(u"m"_s + key, key, { { "id"_L1, key } }));
        }
        const Reply r = c.push(mutations);
        QCOMPARE(r.status, 200);
        QCOMPARE(r.result(499).value("status"_L1), "applied"_L1);
    }

    QString schema;
    {
        QSqlDatabase db = openDatabase(m_server->database(), u"planner"_s, &schema);
        QVERIFY2(db.isOpen(), qPrintable(db.lastError().text()));
        const bool sqlite = db.driverName() == "QSQLITE"_L1;
        QSqlQuery explain(db);
        QVERIFY2(explain.exec(
                         u"EXPLAIN %1SELECT version, deleted, data FROM \"%2\".records WHERE owner = '' AND collection = 'todos' AND key = 'k4.250'"_s
                                 .arg(sqlite ? u"QUERY PLAN "_s : QString(), schema)),
                 qPrintable(explain.lastError().text()));
        QStringList plan;
        while (explain.next())
            plan << explain.value(sqlite ? 3 : 0).toString();
        const QString text = plan.join(u'\n');
        // SQLite names the primary key's index sqlite_autoindex_records_1, PostgreSQL records_pkey.
        QVERIFY2(text.contains(sqlite ? u"sqlite_autoindex_records_1 (owner=? AND collection=? AND key=?)"_s
                                      : u"records_pkey"_s),
                 qPrintable(text));
        explain = QSqlQuery();
        db.close();
    }
    QSqlDatabase::removeDatabase(u"planner"_s);
}

void tst_Server::lockedDatabaseAnswersTryAgainLaterAndAppliesNothing()
{
    m_server = newServer();
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(u"SYNQ_SERVER_BUSY_TIMEOUT_MS"_s, u"300"_s);
    m_server->setProcessEnvironment(environment);
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    Client c = client();
    QCOMPARE(c.push({ insertOp(u"m0"_s, u"k0"_s, {}) }).status, 200);
    const QJsonArray batch { insertOp(u"m1"_s, u"k1"_s, {}), insertOp(u"m2"_s, u"k2"_s, {}) };
    {
        // Another writer holds the lock every push needs, longer than the server waits.
        QString schema;
        QSqlDatabase db = openDatabase(m_server->database(), u"locker"_s, &schema);
        QVERIFY2(db.isOpen(), qPrintable(db.lastError().text()));
        QSqlQuery lock(db);
        if (db.driverName() == "QSQLITE"_L1) {
            QVERIFY2(lock.exec(u"BEGIN IMMEDIATE"_s), qPrintable(lock.lastError().text()));
        } else {
            QVERIFY2(lock.exec(u"BEGIN"_s), qPrintable(lock.lastError().text()));
            QVERIFY2(lock.exec(u"SELECT value FROM \"%1\".counter WHERE id = 1 FOR UPDATE"_s.arg(
                             schema)),
                     qPrintable(lock.lastError().text()));
        }
        const Reply r = c.push(batch);
        QCOMPARE(r.status, 503);
        QCOMPARE(r.errorCode(), u"unavailable"_s);
        QCOMPARE(r.error().value("retryable"_L1), true);
        QCOMPARE(r.header("Retry-After"), "1");
        QCOMPARE(c.pull(u"todos"_s).changes().size(), 1); // readers are not blocked
        lock.exec(u"ROLLBACK"_s);
        lock = QSqlQuery();
        db.close();
    }
    QSqlDatabase::removeDatabase(u"locker"_s);
    // Nothing of it was applied: sent again, it is, once.
    const Reply again = c.push(batch);
    QCOMPARE(again.status, 200);
    QCOMPARE(again.result(0).value("status"_L1), "applied"_L1);
    QCOMPARE(versionOf(again.result(0)), 2);
    QCOMPARE(versionOf(again.result(1)), 3);
    QCOMPARE(c.records(u"todos"_s).keys(), (QStringList { u"k0"_s, u"k1"_s, u"k2"_s }));
}

void tst_Server::sigtermStopsCleanlyAndKeepsTheData()
{
    QVERIFY2(startServer(), qPrintable(m_server->errorString()));
    QCOMPARE(client().push({ insertOp(u"m"_s, u"k"_s, { { "kept"_L1, true } }) }).status, 200);
    QCOMPARE(m_server->stop(), 0);
    QCOMPARE(m_server->process()->exitStatus(), QProcess::NormalExit);
    QVERIFY(!m_server->isRunning());
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    QCOMPARE(client().records(u"todos"_s).value(u"k"_s).value("data"_L1).toObject(),
             (QJsonObject { { "kept"_L1, true } }));
    // SIGINT too.
    ::kill(pid_t(m_server->process()->processId()), SIGINT);
    QVERIFY(m_server->process()->waitForFinished(10000));
    QCOMPARE(m_server->process()->exitStatus(), QProcess::NormalExit);
    QCOMPARE(m_server->process()->exitCode(), 0);
}

void tst_Server::badFlags_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("message");
    auto row = [](const char *tag, const QStringList &arguments, const char *message) {
        QTest::newRow(tag) << arguments << QString::fromLatin1(message);
    };
    row("an unknown flag", { u"--frobnicate"_s }, "frobnicate");
    row("a stray argument", { u"extra"_s }, "unexpected argument");
    row("--listen without a port", { u"--listen"_s, u"127.0.0.1"_s }, "--listen");
    row("--listen with a port above 65535", { u"--listen"_s, u"127.0.0.1:70000"_s }, "--listen");
    row("--listen with a port that is not a number", { u"--listen"_s, u"127.0.0.1:http"_s },
        "--listen");
    row("--listen with a host name", { u"--listen"_s, u"example.com:8080"_s }, "--listen");
    row("--listen given twice",
        { u"--listen"_s, u"127.0.0.1:0"_s, u"--listen"_s, u"127.0.0.1:0"_s }, "more than once");
    row("--listen without a value", { u"--listen"_s }, "listen");
    row("--database of an unknown kind", { u"--database"_s, u"mysql://u@h/db"_s }, "--database");
    row("--database sqlite: without a path", { u"--database"_s, u"sqlite:"_s }, "--database");
    row("--database postgres without a database name",
        { u"--database"_s, u"postgres://u@127.0.0.1:5432/"_s }, "--database");
    row("--database postgres without a user", { u"--database"_s, u"postgres://127.0.0.1/db"_s },
        "--database");
    row("--database postgres with a bad schema",
        { u"--database"_s, u"postgres://u@127.0.0.1/db?schema=a-b"_s }, "schema");
    row("--tokens naming no file", { u"--tokens"_s, u"@DIR@/missing.json"_s }, "--tokens");
    row("--tokens naming a file that is not JSON", { u"--tokens"_s, u"@DIR@/garbage.json"_s },
        "--tokens");
    row("--tokens naming a JSON array", { u"--tokens"_s, u"@DIR@/array.json"_s }, "--tokens");
    row("--tokens with a user id that is not a string", { u"--tokens"_s, u"@DIR@/number.json"_s },
        "--tokens");
    row("--server-assigned-keys with a bad name",
        { u"--server-assigned-keys"_s, u"todos,to-dos"_s }, "to-dos");
    row("--server-assigned-keys with an empty name", { u"--server-assigned-keys"_s, u"todos,"_s },
        "--server-assigned-keys");
    row("--tombstone-horizon that is negative", { u"--tombstone-horizon"_s, u"-5"_s },
        "--tombstone-horizon");
    row("--tombstone-horizon that is not a number", { u"--tombstone-horizon"_s, u"soon"_s },
        "--tombstone-horizon");
}

void tst_Server::badFlags()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, message);
    ServerProcess paths; // for its program and temporary directory
    QVERIFY(writeFile(paths.filePath(u"garbage.json"_s), "{nope"));
    QVERIFY(writeFile(paths.filePath(u"array.json"_s), R"(["t1", "t2"])"));
    QVERIFY(writeFile(paths.filePath(u"number.json"_s), R"({"secret-token": 5})"));
    arguments.replaceInStrings(u"@DIR@"_s, paths.directory());
    // Good values for the flags a row leaves out, in front (a row may end in a bare flag).
    if (!arguments.contains(u"--database"_s))
        arguments =
                QStringList { u"--database"_s, u"sqlite:%1"_s.arg(paths.filePath(u"db.sqlite"_s)) }
                + arguments;
    if (!arguments.contains(u"--listen"_s))
        arguments = QStringList { u"--listen"_s, u"127.0.0.1:0"_s } + arguments;

    QProcess process;
    process.start(paths.program(), arguments);
    QVERIFY(process.waitForStarted(10000));
    const bool exited = process.waitForFinished(10000);
    if (!exited) { // it should never have started serving: stop it anyway
        process.kill();
        process.waitForFinished(10000);
    }
    QVERIFY2(exited, "synq-server accepted the flags and kept running");
    const QString errors = QString::fromUtf8(process.readAllStandardError());
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QCOMPARE(process.exitCode(), 2);
    QVERIFY2(errors.contains(message), qPrintable(errors));
    QVERIFY(!process.readAllStandardOutput().contains("listening on"));
    QVERIFY2(!errors.contains(u"secret-token"_s), qPrintable(errors));
}

void tst_Server::unusableDatabaseOrPortExitsWithOne_data()
{
    QTest::addColumn<QString>("what");
    QTest::newRow("a database in a directory that does not exist") << u"database"_s;
    QTest::newRow("a file that is not a database") << u"garbage"_s;
    QTest::newRow("a port that is taken") << u"port"_s;
}

void tst_Server::unusableDatabaseOrPortExitsWithOne()
{
    QFETCH(QString, what);
    ServerProcess paths;
    QStringList arguments { u"--listen"_s, u"127.0.0.1:0"_s, u"--database"_s,
                            u"sqlite:%1"_s.arg(paths.filePath(u"db.sqlite"_s)) };
    if (what == "database"_L1) {
        arguments[3] = u"sqlite:%1"_s.arg(paths.filePath(u"no/such/dir/db.sqlite"_s));
    } else if (what == "garbage"_L1) {
        QVERIFY(writeFile(paths.filePath(u"db.sqlite"_s), QByteArray(8192, 'g')));
    } else {
        QVERIFY2(startServer(), qPrintable(m_server->errorString()));
        arguments[1] = u"127.0.0.1:%1"_s.arg(m_server->port());
    }
    QProcess process;
    process.start(paths.program(), arguments);
    QVERIFY(process.waitForStarted(10000));
    const bool exited = process.waitForFinished(20000);
    if (!exited) {
        process.kill();
        process.waitForFinished(10000);
    }
    QVERIFY2(exited, "synq-server kept running");
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QCOMPARE(process.exitCode(), 1);
    QVERIFY(!process.readAllStandardError().isEmpty());
}

QTEST_GUILESS_MAIN(tst_Server)
#include "tst_server.moc"
