// SPDX-License-Identifier: BSD-3-Clause
//
// Synq::Protocol (docs/protocol.md): the strict decoders, the error and Retry-After mapping,
// the batch id and the push encoder. Every malformed response must be refused as a Protocol
// error without touching the caller's output.

#include <synq/hybridclock.h>
#include <synq/protocol.h>

#include <QtCore/QCryptographicHash>
#include <QtCore/QDateTime>
#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLocale>
#include <QtCore/QScopeGuard>
#include <QtTest/QTest>

#include "testprinters.h"

#include <ctime>
#include <optional>

using namespace Synq;
using Synq::Protocol::PushResult;

Q_DECLARE_METATYPE(std::optional<qint64>)
Q_DECLARE_METATYPE(Synq::MutationType)
Q_DECLARE_METATYPE(Synq::Protocol::FetchResponse::Status)

namespace {

void resetTimeZone()
{
#ifdef Q_OS_WIN
    _tzset();
#else
    tzset();
#endif
}

// Hostile inputs must be refused well within this, even in a Debug build on a slow runner.
constexpr qint64 QuickMs = 5000;

const QString Sentinel = QStringLiteral("untouched");

Protocol::PushRequest pushRequest(int count)
{
    Protocol::PushRequest request;
    request.client = QStringLiteral("client-1");
    for (int i = 1; i <= count; ++i) {
        Protocol::PushMutation m;
        m.id = QStringLiteral("m%1").arg(i);
        m.tx = m.id;
        m.collection = QStringLiteral("todos");
        m.op = MutationType::Update;
        m.key = QStringLiteral("k%1").arg(i);
        m.baseVersion = 10 + i;
        m.data = QJsonObject { { QStringLiteral("done"), true } };
        request.mutations.append(m);
    }
    request.batch = Protocol::batchId(request.mutations);
    return request;
}

Protocol::PullRequest pullRequest(int limit = 500)
{
    Protocol::PullRequest request;
    request.collection = QStringLiteral("todos");
    request.cursor = QStringLiteral("v1:10");
    request.limit = limit;
    return request;
}

// A response the caller already held: a failing decode must leave it exactly as it was.
Protocol::PushResponse sentinelPush()
{
    Protocol::PushResponse response;
    PushResult r;
    r.id = Sentinel;
    r.version = 7;
    response.results.append(r);
    return response;
}

Protocol::PullResponse sentinelPull()
{
    Protocol::PullResponse response;
    Protocol::Change c;
    c.collection = Sentinel;
    c.key = Sentinel;
    c.version = 7;
    response.changes.append(c);
    response.cursor = Sentinel;
    response.hasMore = true;
    return response;
}

QByteArray json(const QJsonValue &value)
{
    if (value.isArray())
        return QJsonDocument(value.toArray()).toJson(QJsonDocument::Compact);
    return QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact);
}

QJsonObject applied(const QString &id, const QString &key, qint64 version)
{
    return QJsonObject { { QStringLiteral("id"), id },
                         { QStringLiteral("status"), QStringLiteral("applied") },
                         { QStringLiteral("key"), key },
                         { QStringLiteral("version"), version } };
}

// {"results":[r]} with r = the applied result for m1/k1 at version 41, then changed by `edit`.
template<typename Edit>
QByteArray oneResult(Edit edit)
{
    QJsonObject r = applied(QStringLiteral("m1"), QStringLiteral("k1"), 41);
    edit(r);
    return json(QJsonObject { { QStringLiteral("results"), QJsonArray { r } } });
}

QJsonObject conflict()
{
    return QJsonObject {
        { QStringLiteral("id"), QStringLiteral("m1") },
        { QStringLiteral("status"), QStringLiteral("conflict") },
        { QStringLiteral("key"), QStringLiteral("k1") },
        { QStringLiteral("version"), 19 },
        { QStringLiteral("record"), QJsonObject { { QStringLiteral("id"), QStringLiteral("k1") } } },
        { QStringLiteral("error"),
          QJsonObject { { QStringLiteral("code"), QStringLiteral("conflict") },
                        { QStringLiteral("message"), QStringLiteral("k1 is at version 19") },
                        { QStringLiteral("retryable"), false } } },
    };
}

QJsonObject refusal(const QString &status, const QString &code, bool retryable)
{
    return QJsonObject {
        { QStringLiteral("id"), QStringLiteral("m1") },
        { QStringLiteral("status"), status },
        { QStringLiteral("key"), QStringLiteral("k1") },
        { QStringLiteral("error"),
          QJsonObject { { QStringLiteral("code"), code },
                        { QStringLiteral("message"), QStringLiteral("refused: ") + code },
                        { QStringLiteral("retryable"), retryable } } },
    };
}

template<typename Edit>
QByteArray oneRefusal(const QString &status, Edit edit)
{
    QJsonObject r = status == QLatin1String("conflict")
            ? conflict()
            : refusal(status, QStringLiteral("validation"), false);
    edit(r);
    return json(QJsonObject { { QStringLiteral("results"), QJsonArray { r } } });
}

QJsonObject upsert(const QString &key, qint64 version)
{
    return QJsonObject { { QStringLiteral("collection"), QStringLiteral("todos") },
                         { QStringLiteral("key"), key },
                         { QStringLiteral("version"), version },
                         { QStringLiteral("op"), QStringLiteral("upsert") },
                         { QStringLiteral("data"), QJsonObject { { QStringLiteral("id"), key } } } };
}

QJsonObject removal(const QString &key, qint64 version)
{
    return QJsonObject { { QStringLiteral("collection"), QStringLiteral("todos") },
                         { QStringLiteral("key"), key },
                         { QStringLiteral("version"), version },
                         { QStringLiteral("op"), QStringLiteral("delete") },
                         { QStringLiteral("data"), QJsonValue::Null } };
}

QByteArray page(const QJsonArray &changes, const QJsonValue &cursor = QStringLiteral("v1:42"),
                const QJsonValue &hasMore = false)
{
    QJsonObject o { { QStringLiteral("changes"), changes } };
    if (!cursor.isUndefined())
        o.insert(QStringLiteral("cursor"), cursor);
    if (!hasMore.isUndefined())
        o.insert(QStringLiteral("hasMore"), hasMore);
    return json(o);
}

// A page whose single change is upsert("k1", 19) changed by `edit`.
template<typename Edit>
QByteArray oneChange(Edit edit)
{
    QJsonObject c = upsert(QStringLiteral("k1"), 19);
    edit(c);
    return page(QJsonArray { c });
}

QJsonArray manyUpserts(int count)
{
    QJsonArray changes;
    for (int i = 1; i <= count; ++i)
        changes.append(upsert(QStringLiteral("k%1").arg(i), i));
    return changes;
}

Protocol::FetchRequest fetchRequest(const QString &key = QStringLiteral("k1"))
{
    return Protocol::FetchRequest { QStringLiteral("todos"), key };
}

Protocol::FetchResponse sentinelFetch()
{
    Protocol::FetchResponse response;
    response.status = Protocol::FetchResponse::Gone;
    response.key = Sentinel;
    response.version = 7;
    response.hlc = Sentinel;
    return response;
}

// The answers of docs/protocol.md, Fetch one record.
QJsonObject found(const QString &key = QStringLiteral("k1"), qint64 version = 19)
{
    return QJsonObject { { QStringLiteral("status"), QStringLiteral("found") },
                         { QStringLiteral("key"), key },
                         { QStringLiteral("version"), version },
                         { QStringLiteral("data"),
                           QJsonObject { { QStringLiteral("id"), key },
                                         { QStringLiteral("title"), QStringLiteral("Milk") } } } };
}

QJsonObject gone(const QString &key = QStringLiteral("k1"), qint64 version = 42)
{
    return QJsonObject { { QStringLiteral("status"), QStringLiteral("gone") },
                         { QStringLiteral("key"), key },
                         { QStringLiteral("version"), version } };
}

QJsonObject missing(const QString &key = QStringLiteral("k1"))
{
    return QJsonObject { { QStringLiteral("status"), QStringLiteral("missing") },
                         { QStringLiteral("key"), key } };
}

template<typename Edit>
QByteArray edited(QJsonObject o, Edit edit)
{
    edit(o);
    return json(o);
}

QByteArray protocolErrorBody(const QString &code, const QString &message, bool retryable)
{
    return json(QJsonObject {
            { QStringLiteral("error"),
              QJsonObject { { QStringLiteral("code"), code },
                            { QStringLiteral("message"), message },
                            { QStringLiteral("retryable"), retryable } } } });
}

// A stamp as a client makes them: HybridClock::format() of a tick on node.
QString stamp(qint64 wallMs, const char *node)
{
    return HybridClock::format(HybridClock::tick({}, wallMs, QString::fromLatin1(node)));
}

QString imfFixdate(const QDateTime &at)
{
    return QLocale::c().toString(at.toUTC(), QStringLiteral("ddd, dd MMM yyyy HH:mm:ss 'GMT'"));
}

QDateTime fixedNow()
{
    return QDateTime(QDate(2030, 1, 15), QTime(12, 0), Qt::UTC); // a Tuesday
}

} // namespace

class tst_Protocol : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // push responses
    void pushWellFormed_data();
    void pushWellFormed();
    void pushResultsFollowRequestOrder();
    void pushResultStamps_data();
    void pushResultStamps();
    void pushMalformed_data();
    void pushMalformed();
    void hugeInputsFailQuickly_data();
    void hugeInputsFailQuickly();
    void deepNestingIsRefusedByTheJsonParser();
    void deepButAllowedRecordDecodes();

    // pull responses
    void pullWellFormed_data();
    void pullWellFormed();
    void pullMalformed_data();
    void pullMalformed();
    void changeStamps_data();
    void changeStamps();

    // fetch responses
    void fetchWellFormed_data();
    void fetchWellFormed();
    void fetchMalformed_data();
    void fetchMalformed();
    void encodeFetchResponse_data();
    void encodeFetchResponse();

    // errors and Retry-After
    void errorFromResponse_data();
    void errorFromResponse();
    void errorFromResponseOfACodeAndMessage();
    void retryabilityFollowsTheStatusNotTheBody_data();
    void retryabilityFollowsTheStatusNotTheBody();
    void parseRetryAfter_data();
    void parseRetryAfter();
    void parseRetryAfterIgnoresTheLocalTimeZone();

    // requests
    void batchId_data();
    void batchId();
    void batchIdDependsOnOrder();
    void encodePushRequest_data();
    void encodePushRequest();
    void encodePushRequestEnvelope();
    void encodePushRequestStamps_data();
    void encodePushRequestStamps();
    void encodePushRequestMetadata_data();
    void encodePushRequestMetadata();

    // stamps
    void checkHlc_data();
    void checkHlc();
};

// --- push -------------------------------------------------------------------------------

void tst_Protocol::pushWellFormed_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("key");
    QTest::addColumn<qint64>("version");
    QTest::addColumn<bool>("hasRecord");
    QTest::addColumn<bool>("deleted");
    QTest::addColumn<SyncError::Code>("errorCode");
    QTest::addColumn<bool>("retryable");
    QTest::addColumn<QString>("errorMessage");

    const QString k1 = QStringLiteral("k1");
    auto same = [](QJsonObject &) { };

    QTest::newRow("an applied result gives the server's version")
            << oneResult(same) << int(PushResult::Applied) << k1 << qint64(41) << false << false
            << SyncError::None << false << QString();
    QTest::newRow("an applied result with a server-assigned key takes that key")
            << oneResult([](QJsonObject &r) { r[QStringLiteral("key")] = QStringLiteral("srv-9"); })
            << int(PushResult::Applied) << QStringLiteral("srv-9") << qint64(41) << false << false
            << SyncError::None << false << QString();
    QTest::newRow("an applied result with a 512-character key is accepted")
            << oneResult([](QJsonObject &r) { r[QStringLiteral("key")] = QString(512, QLatin1Char('k')); })
            << int(PushResult::Applied) << QString(512, QLatin1Char('k')) << qint64(41) << false
            << false << SyncError::None << false << QString();
    QTest::newRow("an applied result at version 2^53 - 1 is accepted")
            << oneResult([](QJsonObject &r) { r[QStringLiteral("version")] = qint64(9007199254740991); })
            << int(PushResult::Applied) << k1 << qint64(9007199254740991) << false << false
            << SyncError::None << false << QString();
    QTest::newRow("an applied result with error null is accepted")
            << oneResult([](QJsonObject &r) { r[QStringLiteral("error")] = QJsonValue::Null; })
            << int(PushResult::Applied) << k1 << qint64(41) << false << false << SyncError::None
            << false << QString();

    QTest::newRow("a conflict carries the server's record, version and error")
            << oneRefusal(QStringLiteral("conflict"), same) << int(PushResult::Conflict) << k1
            << qint64(19) << true << false << SyncError::Conflict << false
            << QStringLiteral("k1 is at version 19");
    QTest::newRow("a conflict on a removed record has deleted true and no record")
            << oneRefusal(QStringLiteral("conflict"),
                          [](QJsonObject &r) {
                              r[QStringLiteral("record")] = QJsonValue::Null;
                              r[QStringLiteral("deleted")] = true;
                          })
            << int(PushResult::Conflict) << k1 << qint64(19) << false << true
            << SyncError::Conflict << false << QStringLiteral("k1 is at version 19");
    QTest::newRow("a conflict with deleted true and the record absent")
            << oneRefusal(QStringLiteral("conflict"),
                          [](QJsonObject &r) {
                              r.remove(QStringLiteral("record"));
                              r[QStringLiteral("deleted")] = true;
                          })
            << int(PushResult::Conflict) << k1 << qint64(19) << false << true
            << SyncError::Conflict << false << QStringLiteral("k1 is at version 19");
    QTest::newRow("a conflict without an error object still gets a Conflict error")
            << oneRefusal(QStringLiteral("conflict"),
                          [](QJsonObject &r) { r.remove(QStringLiteral("error")); })
            << int(PushResult::Conflict) << k1 << qint64(19) << true << false
            << SyncError::Conflict << false << QStringLiteral("The server refused the change.");

    QTest::newRow("a rejected result carries the server's validation error")
            << oneRefusal(QStringLiteral("rejected"), same) << int(PushResult::Rejected) << k1
            << qint64(0) << false << false << SyncError::Validation << false
            << QStringLiteral("refused: validation");
    QTest::newRow("a rejected result is never retryable, whatever its error says")
            << json(QJsonObject { { QStringLiteral("results"),
                                    QJsonArray { refusal(QStringLiteral("rejected"),
                                                         QStringLiteral("forbidden"), true) } } })
            << int(PushResult::Rejected) << k1 << qint64(0) << false << false
            << SyncError::Forbidden << false << QStringLiteral("refused: forbidden");
    QTest::newRow("an aborted rejection keeps the retriability of its cause")
            << json(QJsonObject { { QStringLiteral("results"),
                                    QJsonArray { refusal(QStringLiteral("rejected"),
                                                         QStringLiteral("aborted"), true) } } })
            << int(PushResult::Rejected) << k1 << qint64(0) << false << false
            << SyncError::Cancelled << true << QStringLiteral("refused: aborted");
    QTest::newRow("a rejected result without key keeps the key that was sent")
            << oneRefusal(QStringLiteral("rejected"),
                          [](QJsonObject &r) { r.remove(QStringLiteral("key")); })
            << int(PushResult::Rejected) << k1 << qint64(0) << false << false
            << SyncError::Validation << false << QStringLiteral("refused: validation");
    QTest::newRow("a rejected result without an error object gets a Validation error")
            << oneRefusal(QStringLiteral("rejected"),
                          [](QJsonObject &r) { r.remove(QStringLiteral("error")); })
            << int(PushResult::Rejected) << k1 << qint64(0) << false << false
            << SyncError::Validation << false << QStringLiteral("The server refused the change.");
    QTest::newRow("an error without a message gets a generic message")
            << oneRefusal(QStringLiteral("rejected"),
                          [](QJsonObject &r) {
                              r[QStringLiteral("error")] = QJsonObject {
                                  { QStringLiteral("code"), QStringLiteral("forbidden") } };
                          })
            << int(PushResult::Rejected) << k1 << qint64(0) << false << false
            << SyncError::Forbidden << false << QStringLiteral("The server refused the change.");

    QTest::newRow("a retry result is retryable even when its error says otherwise")
            << json(QJsonObject { { QStringLiteral("results"),
                                    QJsonArray { refusal(QStringLiteral("retry"),
                                                         QStringLiteral("rate-limited"), false) } } })
            << int(PushResult::Retry) << k1 << qint64(0) << false << false
            << SyncError::RateLimited << true << QStringLiteral("refused: rate-limited");
    QTest::newRow("a retry result with an unknown error code falls back to Network")
            << json(QJsonObject { { QStringLiteral("results"),
                                    QJsonArray { refusal(QStringLiteral("retry"),
                                                         QStringLiteral("busy"), true) } } })
            << int(PushResult::Retry) << k1 << qint64(0) << false << false << SyncError::Network
            << true << QStringLiteral("refused: busy");
    QTest::newRow("a retry result without an error object is a retryable Network error")
            << oneRefusal(QStringLiteral("retry"),
                          [](QJsonObject &r) { r.remove(QStringLiteral("error")); })
            << int(PushResult::Retry) << k1 << qint64(0) << false << false << SyncError::Network
            << true << QStringLiteral("The server refused the change.");
}

void tst_Protocol::pushWellFormed()
{
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QString, key);
    QFETCH(qint64, version);
    QFETCH(bool, hasRecord);
    QFETCH(bool, deleted);
    QFETCH(SyncError::Code, errorCode);
    QFETCH(bool, retryable);
    QFETCH(QString, errorMessage);

    Protocol::PushResponse response = sentinelPush();
    SyncError error;
    QVERIFY2(Protocol::decodePushResponse(body, pushRequest(1), &response, &error),
             qPrintable(error.toString()));
    QCOMPARE(error, SyncError());
    QCOMPARE(response.results.size(), 1);
    const PushResult &r = response.results.first();
    QCOMPARE(r.id, QStringLiteral("m1"));
    QCOMPARE(int(r.status), status);
    QCOMPARE(r.key, key);
    QCOMPARE(r.version, version);
    QCOMPARE(r.record.has_value(), hasRecord);
    if (hasRecord)
        QCOMPARE(r.record->value(QLatin1String("id")).toString(), QStringLiteral("k1"));
    QCOMPARE(r.deleted, deleted);
    QCOMPARE(r.error.code(), errorCode);
    QCOMPARE(r.error.isRetryable(), retryable);
    QCOMPARE(r.error.message(), errorMessage);
}

void tst_Protocol::pushResultsFollowRequestOrder()
{
    QJsonObject c = conflict();
    c[QStringLiteral("id")] = QStringLiteral("m2");
    c[QStringLiteral("key")] = QStringLiteral("k2");
    QJsonObject r = refusal(QStringLiteral("rejected"), QStringLiteral("aborted"), false);
    r[QStringLiteral("id")] = QStringLiteral("m3");
    r[QStringLiteral("key")] = QStringLiteral("k3");
    const QByteArray body = json(QJsonObject {
            { QStringLiteral("results"),
              QJsonArray { applied(QStringLiteral("m1"), QStringLiteral("k1"), 41), c, r,
                           applied(QStringLiteral("m4"), QStringLiteral("k4"), 42) } } });

    Protocol::PushResponse response;
    SyncError error;
    QVERIFY2(Protocol::decodePushResponse(body, pushRequest(4), &response, &error),
             qPrintable(error.toString()));
    QCOMPARE(response.results.size(), 4);
    const QList<int> statuses { PushResult::Applied, PushResult::Conflict, PushResult::Rejected,
                                PushResult::Applied };
    for (int i = 0; i < 4; ++i) {
        QCOMPARE(response.results.at(i).id, QStringLiteral("m%1").arg(i + 1));
        QCOMPARE(response.results.at(i).key, QStringLiteral("k%1").arg(i + 1));
        QCOMPARE(int(response.results.at(i).status), statuses.at(i));
    }
    QCOMPARE(response.results.at(0).version, qint64(41));
    QCOMPARE(response.results.at(1).version, qint64(19));
    QCOMPARE(response.results.at(2).error.code(), SyncError::Cancelled);
    QCOMPARE(response.results.at(3).version, qint64(42));
}

void tst_Protocol::pushResultStamps_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("hlc");

    const QString a = stamp(1764766000000, "device-a");
    const QString b = stamp(1764766000001, "device-b");
    auto withHlc = [](const QJsonValue &value) {
        return [value](QJsonObject &r) { r[QStringLiteral("hlc")] = value; };
    };
    QTest::newRow("an applied result gives the stamp that was stored")
            << oneResult(withHlc(a)) << int(PushResult::Applied) << a;
    QTest::newRow("a conflict gives the stamp of the server's current state")
            << oneRefusal(QStringLiteral("conflict"), withHlc(b)) << int(PushResult::Conflict) << b;
    QTest::newRow("a conflict on a tombstone gives the remove's stamp")
            << oneRefusal(QStringLiteral("conflict"),
                          [b](QJsonObject &r) {
                              r[QStringLiteral("record")] = QJsonValue::Null;
                              r[QStringLiteral("deleted")] = true;
                              r[QStringLiteral("hlc")] = b;
                          })
            << int(PushResult::Conflict) << b;
    QTest::newRow("a stamp whose node is empty is a stamp")
            << oneResult(withHlc(QStringLiteral("001764766000000:000003:")))
            << int(PushResult::Applied) << QStringLiteral("001764766000000:000003:");
    QTest::newRow("a result without hlc has no stamp")
            << oneResult([](QJsonObject &) { }) << int(PushResult::Applied) << QString();
    QTest::newRow("a conflict without hlc has no stamp (the write had none)")
            << oneRefusal(QStringLiteral("conflict"), [](QJsonObject &) { })
            << int(PushResult::Conflict) << QString();
    QTest::newRow("hlc null is no stamp")
            << oneResult(withHlc(QJsonValue::Null)) << int(PushResult::Applied) << QString();
}

void tst_Protocol::pushResultStamps()
{
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QString, hlc);

    Protocol::PushResponse response = sentinelPush();
    SyncError error;
    QVERIFY2(Protocol::decodePushResponse(body, pushRequest(1), &response, &error),
             qPrintable(error.toString()));
    QCOMPARE(response.results.size(), 1);
    QCOMPARE(int(response.results.first().status), status);
    QCOMPARE(response.results.first().hlc, hlc);
    if (!hlc.isEmpty())
        QVERIFY(HybridClock::parse(response.results.first().hlc));
}

void tst_Protocol::pushMalformed_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("mutations");

    const QByteArray good = oneResult([](QJsonObject &) { });
    auto row = [](const char *tag, const QByteArray &body, int mutations = 1) {
        QTest::newRow(tag) << body << mutations;
    };
    auto set = [](const char *field, const QJsonValue &value) {
        return [field, value](QJsonObject &r) { r[QLatin1String(field)] = value; };
    };
    auto drop = [](const char *field) {
        return [field](QJsonObject &r) { r.remove(QLatin1String(field)); };
    };

    // not a response object at all
    row("a body that is not JSON", "<html>oops</html>");
    row("an empty body", "");
    row("truncated JSON", good.left(good.size() - 3));
    row("a body cut in the middle of a string", good.left(good.indexOf("applied") + 3));
    row("valid JSON followed by garbage", good + "x");
    row("a JSON array at the root", "[" + good + "]");
    row("a JSON string at the root", "\"results\"");
    row("a JSON number at the root", "41");
    row("JSON null at the root", "null");
    row("JSON true at the root", "true");

    // the results array
    row("an object without results", "{}");
    row("results misspelt", "{\"result\":[]}");
    row("results as an object", "{\"results\":{\"id\":\"m1\"}}");
    row("results as a string", "{\"results\":\"applied\"}");
    row("results as null", "{\"results\":null}");
    row("no results for one mutation", "{\"results\":[]}");
    row("fewer results than mutations", good, 2);
    row("more results than mutations",
        json(QJsonObject { { QStringLiteral("results"),
                             QJsonArray { applied(QStringLiteral("m1"), QStringLiteral("k1"), 41),
                                          applied(QStringLiteral("m2"), QStringLiteral("k2"), 42) } } }));
    row("a result that is not an object", "{\"results\":[\"m1\"]}");
    row("a result that is null", "{\"results\":[null]}");

    // ids
    row("a result with another mutation's id", oneResult(set("id", QStringLiteral("m9"))));
    row("a result without id", oneResult(drop("id")));
    row("a result whose id is a number", oneResult(set("id", 1)));
    row("a result whose id differs in case", oneResult(set("id", QStringLiteral("M1"))));
    row("results out of order",
        json(QJsonObject { { QStringLiteral("results"),
                             QJsonArray { applied(QStringLiteral("m2"), QStringLiteral("k2"), 42),
                                          applied(QStringLiteral("m1"), QStringLiteral("k1"), 41) } } }),
        2);
    row("the same result twice instead of two",
        json(QJsonObject { { QStringLiteral("results"),
                             QJsonArray { applied(QStringLiteral("m1"), QStringLiteral("k1"), 41),
                                          applied(QStringLiteral("m1"), QStringLiteral("k1"), 41) } } }),
        2);

    // status
    row("an unknown status", oneResult(set("status", QStringLiteral("done"))));
    row("a status in capitals", oneResult(set("status", QStringLiteral("APPLIED"))));
    row("a status that is a number", oneResult(set("status", 0)));
    row("a missing status", oneResult(drop("status")));

    // key
    row("a key that is a number", oneResult(set("key", 1)));
    row("a key that is null", oneResult(set("key", QJsonValue::Null)));
    row("a key that is an object", oneResult(set("key", QJsonObject())));
    row("an empty key", oneResult(set("key", QString())));
    row("a key of 513 characters", oneResult(set("key", QString(513, QLatin1Char('k')))));
    row("an applied result without key", oneResult(drop("key")));
    row("a rejected result with an empty key",
        oneRefusal(QStringLiteral("rejected"), set("key", QString())));
    row("a conflict whose key is a number", oneRefusal(QStringLiteral("conflict"), set("key", 7)));

    // version
    row("a negative version", oneResult(set("version", -1)));
    row("a fractional version", oneResult(set("version", 41.5)));
    row("a version as a string", oneResult(set("version", QStringLiteral("41"))));
    row("a version that is a boolean", oneResult(set("version", true)));
    row("a version of 2^53", oneResult(set("version", 9007199254740992.0)));
    row("a version above 2^53", oneResult(set("version", 9007199254740994.0)));
    row("a huge version", oneResult(set("version", 1e300)));
    row("an applied result without version", oneResult(drop("version")));
    row("an applied result with version null", oneResult(set("version", QJsonValue::Null)));
    row("an applied result with version 0", oneResult(set("version", 0)));
    row("a conflict whose version is a string",
        oneRefusal(QStringLiteral("conflict"), set("version", QStringLiteral("19"))));
    row("a conflict with a negative version", oneRefusal(QStringLiteral("conflict"), set("version", -19)));

    // conflict record and deleted
    row("a conflict without record and without deleted",
        oneRefusal(QStringLiteral("conflict"), drop("record")));
    row("a conflict with record null and deleted false",
        oneRefusal(QStringLiteral("conflict"), [](QJsonObject &r) {
            r[QStringLiteral("record")] = QJsonValue::Null;
            r[QStringLiteral("deleted")] = false;
        }));
    row("a conflict with deleted false and no record",
        oneRefusal(QStringLiteral("conflict"), [](QJsonObject &r) {
            r.remove(QStringLiteral("record"));
            r[QStringLiteral("deleted")] = false;
        }));
    row("a record that is an array", oneRefusal(QStringLiteral("conflict"), set("record", QJsonArray())));
    row("a record that is a string",
        oneRefusal(QStringLiteral("conflict"), set("record", QStringLiteral("{}"))));
    row("a record that is a number", oneRefusal(QStringLiteral("conflict"), set("record", 1)));
    row("deleted as a string", oneRefusal(QStringLiteral("conflict"), [](QJsonObject &r) {
            r.remove(QStringLiteral("record"));
            r[QStringLiteral("deleted")] = QStringLiteral("true");
        }));
    row("deleted as a number", oneRefusal(QStringLiteral("conflict"), [](QJsonObject &r) {
            r.remove(QStringLiteral("record"));
            r[QStringLiteral("deleted")] = 1;
        }));
    row("deleted as null", oneRefusal(QStringLiteral("conflict"), set("deleted", QJsonValue::Null)));
    row("an applied result with deleted as a string", oneResult(set("deleted", QStringLiteral("no"))));

    // error objects
    row("an error that is a string", oneRefusal(QStringLiteral("rejected"), set("error", QStringLiteral("bad"))));
    row("an error that is null on a rejected result",
        oneRefusal(QStringLiteral("rejected"), set("error", QJsonValue::Null)));
    row("an error that is an array", oneRefusal(QStringLiteral("retry"), [](QJsonObject &r) {
            r[QStringLiteral("status")] = QStringLiteral("retry");
            r[QStringLiteral("error")] = QJsonArray();
        }));
    row("an error whose code is a number", oneRefusal(QStringLiteral("rejected"), set("error", QJsonObject {
            { QStringLiteral("code"), 400 }, { QStringLiteral("message"), QStringLiteral("x") } })));
    row("an error without code", oneRefusal(QStringLiteral("rejected"), set("error", QJsonObject {
            { QStringLiteral("message"), QStringLiteral("x") } })));
    row("an error whose message is a number", oneRefusal(QStringLiteral("conflict"), set("error", QJsonObject {
            { QStringLiteral("code"), QStringLiteral("conflict") }, { QStringLiteral("message"), 1 } })));
    row("an error whose retryable is a string", oneRefusal(QStringLiteral("rejected"), set("error", QJsonObject {
            { QStringLiteral("code"), QStringLiteral("validation") },
            { QStringLiteral("retryable"), QStringLiteral("false") } })));
    row("an applied result carrying an error", oneResult(set("error", QJsonObject {
            { QStringLiteral("code"), QStringLiteral("validation") },
            { QStringLiteral("message"), QStringLiteral("x") } })));
    row("an applied result carrying an error string", oneResult(set("error", QStringLiteral("x"))));

    // hlc
    row("an hlc that is a number", oneResult(set("hlc", 1764766000000.0)));
    row("an hlc that is an object", oneResult(set("hlc", QJsonObject())));
    row("an hlc that is true", oneResult(set("hlc", true)));
    row("an empty hlc", oneResult(set("hlc", QString())));
    row("an hlc that is a date", oneResult(set("hlc", QStringLiteral("2025-12-03T12:46:40Z"))));
    row("an hlc without a node", oneResult(set("hlc", QStringLiteral("001764766000000:000003"))));
    row("an hlc with a short wall time",
        oneResult(set("hlc", QStringLiteral("1764766000000:000003:node"))));
    row("an hlc with a signed counter",
        oneResult(set("hlc", QStringLiteral("001764766000000:+00003:node"))));
    row("an hlc with a colon in its node",
        oneResult(set("hlc", QStringLiteral("001764766000000:000003:no:de"))));
    row("an hlc with a NUL in its node",
        oneResult(set("hlc", QStringLiteral("001764766000000:000003:no") + QChar(0))));
    row("an hlc whose node is too long",
        oneResult(set("hlc", QStringLiteral("001764766000000:000003:")
                                     + QString(Protocol::MaxIdLength + 1, QLatin1Char('n')))));
    row("a conflict with a malformed hlc",
        oneRefusal(QStringLiteral("conflict"), set("hlc", QStringLiteral("yesterday"))));

    // one bad result spoils the whole response
    QJsonObject second = applied(QStringLiteral("m2"), QStringLiteral("k2"), 42);
    second[QStringLiteral("version")] = -42;
    row("the last of three results is malformed",
        json(QJsonObject { { QStringLiteral("results"),
                             QJsonArray { applied(QStringLiteral("m1"), QStringLiteral("k1"), 41),
                                          applied(QStringLiteral("m2"), QStringLiteral("k2"), 42),
                                          applied(QStringLiteral("m3"), QStringLiteral("k3"), 0) } } }),
        3);
    row("the middle of three results is malformed",
        json(QJsonObject { { QStringLiteral("results"),
                             QJsonArray { applied(QStringLiteral("m1"), QStringLiteral("k1"), 41),
                                          second,
                                          applied(QStringLiteral("m3"), QStringLiteral("k3"), 43) } } }),
        3);
}

void tst_Protocol::pushMalformed()
{
    QFETCH(QByteArray, body);
    QFETCH(int, mutations);

    Protocol::PushResponse response = sentinelPush();
    SyncError error;
    QVERIFY(!Protocol::decodePushResponse(body, pushRequest(mutations), &response, &error));
    QCOMPARE(error.code(), SyncError::Protocol);
    QVERIFY(error.isRetryable()); // "nothing of it is applied, and the request is retried later"
    QVERIFY(!error.message().isEmpty());
    QVERIFY(!error.detail().isEmpty());
    QCOMPARE(response.results.size(), 1);
    QCOMPARE(response.results.first().id, Sentinel);
    QCOMPARE(response.results.first().version, qint64(7));
}

void tst_Protocol::hugeInputsFailQuickly_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<bool>("push");

    const QByteArray tenMiBOfArrays(10 * 1024 * 1024, '[');
    QTest::newRow("push: 10 MiB of opening brackets") << tenMiBOfArrays << true;
    QTest::newRow("pull: 10 MiB of opening brackets") << tenMiBOfArrays << false;
    QTest::newRow("push: 1 MiB of balanced nested arrays")
            << QByteArray(512 * 1024, '[') + QByteArray(512 * 1024, ']') << true;
    QTest::newRow("push: results nested 100k deep")
            << "{\"results\":" + QByteArray(100000, '[') + QByteArray(100000, ']') + "}" << true;

    QByteArray objects;
    objects.reserve(10 * 1024 * 1024);
    while (objects.size() < 10 * 1024 * 1024)
        objects += "{\"a\":";
    QTest::newRow("pull: 10 MiB of nested objects") << objects << false;

    QJsonArray many;
    for (int i = 0; i < 100000; ++i)
        many.append(applied(QStringLiteral("m1"), QStringLiteral("k1"), 41));
    QTest::newRow("push: 100k results for one mutation")
            << json(QJsonObject { { QStringLiteral("results"), many } }) << true;
    QTest::newRow("pull: 100k changes for a limit of 500") << page(manyUpserts(100000)) << false;
}

void tst_Protocol::hugeInputsFailQuickly()
{
    QFETCH(QByteArray, body);
    QFETCH(bool, push);

    QElapsedTimer timer;
    timer.start();
    SyncError error;
    if (push) {
        Protocol::PushResponse response = sentinelPush();
        QVERIFY(!Protocol::decodePushResponse(body, pushRequest(1), &response, &error));
        QCOMPARE(response.results.first().id, Sentinel);
    } else {
        Protocol::PullResponse response = sentinelPull();
        QVERIFY(!Protocol::decodePullResponse(body, pullRequest(), &response, &error));
        QCOMPARE(response.cursor, Sentinel);
        QCOMPARE(response.changes.size(), 1);
    }
    QCOMPARE(error.code(), SyncError::Protocol);
    QVERIFY2(timer.elapsed() < QuickMs, qPrintable(QStringLiteral("%1 ms").arg(timer.elapsed())));
}

void tst_Protocol::deepNestingIsRefusedByTheJsonParser()
{
    // QJsonDocument stops at 1024 levels with DeepNesting instead of recursing into the stack;
    // the decoders rely on that and report it as a protocol error naming the parse error.
    QJsonParseError parse;
    QJsonDocument::fromJson(QByteArray(1024, '[') + QByteArray(1024, ']'), &parse);
    QCOMPARE(parse.error, QJsonParseError::NoError);
    QJsonDocument::fromJson(QByteArray(1025, '[') + QByteArray(1025, ']'), &parse);
    QCOMPARE(parse.error, QJsonParseError::DeepNesting);

    const QByteArray deep = QByteArray(10 * 1024 * 1024, '[');
    QJsonDocument::fromJson(deep, &parse);
    QCOMPARE(parse.error, QJsonParseError::DeepNesting);
    QVERIFY(parse.offset <= 1025);

    Protocol::PushResponse response = sentinelPush();
    SyncError error;
    QVERIFY(!Protocol::decodePushResponse(deep, pushRequest(1), &response, &error));
    QCOMPARE(error.code(), SyncError::Protocol);
    QVERIFY2(error.detail().contains(parse.errorString()), qPrintable(error.detail()));
}

void tst_Protocol::deepButAllowedRecordDecodes()
{
    // A record nested just below the parser's limit is data like any other.
    const QByteArray nested = QByteArray(1000, '[') + "1" + QByteArray(1000, ']');
    const QByteArray body = "{\"results\":[{\"id\":\"m1\",\"status\":\"conflict\",\"key\":\"k1\","
                            "\"version\":19,\"record\":{\"deep\":"
            + nested + "}}]}";
    Protocol::PushResponse response;
    SyncError error;
    QVERIFY2(Protocol::decodePushResponse(body, pushRequest(1), &response, &error),
             qPrintable(error.toString()));
    QVERIFY(response.results.first().record.has_value());
    QJsonValue v = response.results.first().record->value(QLatin1String("deep"));
    int depth = 0;
    while (v.isArray()) {
        v = v.toArray().at(0);
        ++depth;
    }
    QCOMPARE(depth, 1000);
    QCOMPARE(v.toInt(), 1);
}

// --- pull -------------------------------------------------------------------------------

void tst_Protocol::pullWellFormed_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("limit");
    QTest::addColumn<QStringList>("keys");
    QTest::addColumn<QList<qint64>>("versions");
    QTest::addColumn<QList<bool>>("deleted");
    QTest::addColumn<QString>("cursor");
    QTest::addColumn<bool>("hasMore");

    QTest::newRow("an upsert and a delete")
            << page(QJsonArray { upsert(QStringLiteral("k1"), 19), removal(QStringLiteral("k2"), 42) })
            << 500 << QStringList { QStringLiteral("k1"), QStringLiteral("k2") }
            << QList<qint64> { 19, 42 } << QList<bool> { false, true } << QStringLiteral("v1:42")
            << false;
    QJsonObject bareDelete = removal(QStringLiteral("k2"), 42);
    bareDelete.remove(QStringLiteral("data"));
    QTest::newRow("a delete without data")
            << page(QJsonArray { bareDelete }) << 500 << QStringList { QStringLiteral("k2") }
            << QList<qint64> { 42 } << QList<bool> { true } << QStringLiteral("v1:42") << false;
    QTest::newRow("an empty last page")
            << page(QJsonArray()) << 500 << QStringList() << QList<qint64>() << QList<bool>()
            << QStringLiteral("v1:42") << false;
    QTest::newRow("a page with more waiting")
            << page(manyUpserts(3), QStringLiteral("v1:3"), true) << 3
            << QStringList { QStringLiteral("k1"), QStringLiteral("k2"), QStringLiteral("k3") }
            << QList<qint64> { 1, 2, 3 } << QList<bool> { false, false, false }
            << QStringLiteral("v1:3") << true;
    QTest::newRow("a cursor of exactly 1024 characters")
            << page(QJsonArray(), QString(1024, QLatin1Char('c'))) << 500 << QStringList()
            << QList<qint64>() << QList<bool>() << QString(1024, QLatin1Char('c')) << false;
    QTest::newRow("versions with gaps up to 2^53 - 1")
            << page(QJsonArray { upsert(QStringLiteral("a"), 5),
                                 upsert(QStringLiteral("b"), 9007199254740991) })
            << 500 << QStringList { QStringLiteral("a"), QStringLiteral("b") }
            << QList<qint64> { 5, 9007199254740991 } << QList<bool> { false, false }
            << QStringLiteral("v1:42") << false;
    QTest::newRow("a key of 512 characters")
            << page(QJsonArray { upsert(QString(512, QLatin1Char('k')), 1) }) << 500
            << QStringList { QString(512, QLatin1Char('k')) } << QList<qint64> { 1 }
            << QList<bool> { false } << QStringLiteral("v1:42") << false;
    QTest::newRow("a full page of 1000 changes")
            << page(manyUpserts(1000), QStringLiteral("v1:1000"), true) << 1000
            << [] {
                   QStringList keys;
                   for (int i = 1; i <= 1000; ++i)
                       keys.append(QStringLiteral("k%1").arg(i));
                   return keys;
               }()
            << [] {
                   QList<qint64> versions;
                   for (int i = 1; i <= 1000; ++i)
                       versions.append(i);
                   return versions;
               }()
            << QList<bool>(1000, false) << QStringLiteral("v1:1000") << true;
}

void tst_Protocol::pullWellFormed()
{
    QFETCH(QByteArray, body);
    QFETCH(int, limit);
    QFETCH(QStringList, keys);
    QFETCH(QList<qint64>, versions);
    QFETCH(QList<bool>, deleted);
    QFETCH(QString, cursor);
    QFETCH(bool, hasMore);

    Protocol::PullResponse response = sentinelPull();
    SyncError error;
    QVERIFY2(Protocol::decodePullResponse(body, pullRequest(limit), &response, &error),
             qPrintable(error.toString()));
    QCOMPARE(error, SyncError());
    QCOMPARE(response.cursor, cursor);
    QCOMPARE(response.hasMore, hasMore);
    QCOMPARE(response.changes.size(), keys.size());
    for (qsizetype i = 0; i < keys.size(); ++i) {
        const Protocol::Change &c = response.changes.at(i);
        QCOMPARE(c.collection, QStringLiteral("todos"));
        QCOMPARE(c.key, keys.at(i));
        QCOMPARE(c.version, versions.at(i));
        QCOMPARE(c.deleted, deleted.at(i));
        if (c.deleted)
            QVERIFY(c.data.isEmpty());
        else
            QCOMPARE(c.data.value(QLatin1String("id")).toString(), keys.at(i));
    }
}

void tst_Protocol::pullMalformed_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("limit");

    auto row = [](const char *tag, const QByteArray &body, int limit = 500) {
        QTest::newRow(tag) << body << limit;
    };
    auto set = [](const char *field, const QJsonValue &value) {
        return [field, value](QJsonObject &c) { c[QLatin1String(field)] = value; };
    };
    auto drop = [](const char *field) {
        return [field](QJsonObject &c) { c.remove(QLatin1String(field)); };
    };
    const QJsonValue undefined(QJsonValue::Undefined);
    const QByteArray good = page(QJsonArray { upsert(QStringLiteral("k1"), 19) });

    // the envelope
    row("a body that is not JSON", "Service Unavailable");
    row("an empty body", "");
    row("truncated JSON", good.left(good.size() - 1));
    row("a JSON array at the root", "[" + good + "]");
    row("a JSON string at the root", "\"v1:42\"");
    row("an object without changes", "{\"cursor\":\"v1:42\",\"hasMore\":false}");
    row("changes as an object", "{\"changes\":{},\"cursor\":\"v1:42\",\"hasMore\":false}");
    row("changes as null", "{\"changes\":null,\"cursor\":\"v1:42\",\"hasMore\":false}");
    row("a missing cursor", page(QJsonArray(), undefined));
    row("a null cursor", page(QJsonArray(), QJsonValue::Null));
    row("a numeric cursor", page(QJsonArray(), 42));
    row("an empty cursor", page(QJsonArray(), QString()));
    row("a cursor of 1025 characters", page(QJsonArray(), QString(1025, QLatin1Char('c'))));
    row("hasMore missing", page(QJsonArray(), QStringLiteral("v1:42"), undefined));
    row("hasMore as a string", page(QJsonArray(), QStringLiteral("v1:42"), QStringLiteral("true")));
    row("hasMore as a number", page(QJsonArray(), QStringLiteral("v1:42"), 1));
    row("hasMore as null", page(QJsonArray(), QStringLiteral("v1:42"), QJsonValue::Null));

    // the page size
    row("more changes than the request's limit", page(manyUpserts(3)), 2);
    row("two changes for a limit of 1", page(manyUpserts(2)), 1);
    row("more than 1000 changes for a larger limit", page(manyUpserts(1001)), 5000);

    // each change
    row("a change that is not an object", page(QJsonArray { QStringLiteral("k1") }));
    row("a change that is null", page(QJsonArray { QJsonValue::Null }));
    row("a change for another collection", oneChange(set("collection", QStringLiteral("projects"))));
    row("a change without collection", oneChange(drop("collection")));
    row("a change whose collection differs in case", oneChange(set("collection", QStringLiteral("Todos"))));
    row("a change without key", oneChange(drop("key")));
    row("a change with an empty key", oneChange(set("key", QString())));
    row("a change with a numeric key", oneChange(set("key", 1)));
    row("a change with a key of 513 characters", oneChange(set("key", QString(513, QLatin1Char('k')))));
    row("version 0", oneChange(set("version", 0)));
    row("a negative version", oneChange(set("version", -19)));
    row("a fractional version", oneChange(set("version", 19.5)));
    row("a version as a string", oneChange(set("version", QStringLiteral("19"))));
    row("a version above 2^53", oneChange(set("version", 9007199254740994.0)));
    row("a missing version", oneChange(drop("version")));
    row("two changes with the same version",
        page(QJsonArray { upsert(QStringLiteral("a"), 5), upsert(QStringLiteral("b"), 5) }));
    row("versions going down",
        page(QJsonArray { upsert(QStringLiteral("a"), 6), upsert(QStringLiteral("b"), 5) }));
    row("versions going down after going up",
        page(QJsonArray { upsert(QStringLiteral("a"), 1), upsert(QStringLiteral("b"), 7),
                          upsert(QStringLiteral("c"), 3) }));
    row("an upsert without data", oneChange(drop("data")));
    row("an upsert with data null", oneChange(set("data", QJsonValue::Null)));
    row("an upsert with data as an array", oneChange(set("data", QJsonArray())));
    row("an upsert with data as a string", oneChange(set("data", QStringLiteral("{}"))));
    row("a delete with a data object",
        page(QJsonArray { [] {
            QJsonObject c = removal(QStringLiteral("k2"), 42);
            c[QStringLiteral("data")] = QJsonObject { { QStringLiteral("id"), QStringLiteral("k2") } };
            return c;
        }() }));
    row("a delete with an empty data object",
        page(QJsonArray { [] {
            QJsonObject c = removal(QStringLiteral("k2"), 42);
            c[QStringLiteral("data")] = QJsonObject();
            return c;
        }() }));
    row("a delete with data false",
        page(QJsonArray { [] {
            QJsonObject c = removal(QStringLiteral("k2"), 42);
            c[QStringLiteral("data")] = false;
            return c;
        }() }));
    row("a delete with data as a string",
        page(QJsonArray { [] {
            QJsonObject c = removal(QStringLiteral("k2"), 42);
            c[QStringLiteral("data")] = QStringLiteral("null");
            return c;
        }() }));
    row("an unknown op", oneChange(set("op", QStringLiteral("insert"))));
    row("an op in capitals", oneChange(set("op", QStringLiteral("UPSERT"))));
    row("a missing op", oneChange(drop("op")));
    row("the last of three changes is malformed",
        page(QJsonArray { upsert(QStringLiteral("a"), 1), upsert(QStringLiteral("b"), 2),
                          [] {
                              QJsonObject c = upsert(QStringLiteral("c"), 3);
                              c.remove(QStringLiteral("data"));
                              return c;
                          }() }));
}

void tst_Protocol::pullMalformed()
{
    QFETCH(QByteArray, body);
    QFETCH(int, limit);

    Protocol::PullResponse response = sentinelPull();
    SyncError error;
    QVERIFY(!Protocol::decodePullResponse(body, pullRequest(limit), &response, &error));
    QCOMPARE(error.code(), SyncError::Protocol);
    QVERIFY(error.isRetryable());
    QVERIFY(!error.detail().isEmpty());
    QCOMPARE(response.cursor, Sentinel);
    QVERIFY(response.hasMore);
    QCOMPARE(response.changes.size(), 1);
    QCOMPARE(response.changes.first().key, Sentinel);
}

void tst_Protocol::changeStamps_data()
{
    QTest::addColumn<QJsonValue>("hlc");
    QTest::addColumn<bool>("decodes");

    QTest::newRow("a stamp") << QJsonValue(stamp(1764766000000, "device-a")) << true;
    QTest::newRow("no hlc") << QJsonValue(QJsonValue::Undefined) << true;
    QTest::newRow("hlc null") << QJsonValue(QJsonValue::Null) << true;
    QTest::newRow("an hlc that is a number") << QJsonValue(17) << false;
    QTest::newRow("an hlc that is an array") << QJsonValue(QJsonArray()) << false;
    QTest::newRow("an empty hlc") << QJsonValue(QString()) << false;
    QTest::newRow("an hlc that is not a stamp") << QJsonValue(QStringLiteral("v1:42")) << false;
    QTest::newRow("an hlc with a 16-digit wall time")
            << QJsonValue(QStringLiteral("0001764766000000:000003:node")) << false;
}

// The stamp of the write that made each version, an upsert's and a delete's alike; a change
// with a malformed stamp spoils the page.
void tst_Protocol::changeStamps()
{
    QFETCH(QJsonValue, hlc);
    QFETCH(bool, decodes);

    QJsonObject up = upsert(QStringLiteral("k1"), 19);
    QJsonObject down = removal(QStringLiteral("k2"), 42);
    const QString other = stamp(1764766000005, "device-b");
    down.insert(QStringLiteral("hlc"), other);
    if (!hlc.isUndefined())
        up.insert(QStringLiteral("hlc"), hlc);
    const QByteArray body = page(QJsonArray { up, down });

    Protocol::PullResponse response = sentinelPull();
    SyncError error;
    QCOMPARE(Protocol::decodePullResponse(body, pullRequest(), &response, &error), decodes);
    if (!decodes) {
        QCOMPARE(error.code(), SyncError::Protocol);
        QVERIFY2(error.detail().contains(QLatin1String("changes[0]: hlc")),
                 qPrintable(error.detail()));
        QCOMPARE(response.cursor, Sentinel);
        QCOMPARE(response.changes.size(), 1);
        return;
    }
    QCOMPARE(response.changes.size(), 2);
    QCOMPARE(response.changes.at(0).hlc, hlc.isString() ? hlc.toString() : QString());
    QCOMPARE(response.changes.at(1).hlc, other);
    QVERIFY(response.changes.at(1).deleted);
}

// --- fetch ------------------------------------------------------------------------------

void tst_Protocol::fetchWellFormed_data()
{
    using Status = Protocol::FetchResponse::Status;
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("key"); // asked for and answered
    QTest::addColumn<Status>("status");
    QTest::addColumn<qint64>("version");
    QTest::addColumn<QJsonObject>("data");
    QTest::addColumn<QString>("hlc");

    auto set = [](const char *field, const QJsonValue &value) {
        return [field, value](QJsonObject &o) { o[QLatin1String(field)] = value; };
    };
    const QString k1 = QStringLiteral("k1");
    const QJsonObject milk { { QStringLiteral("id"), k1 },
                             { QStringLiteral("title"), QStringLiteral("Milk") } };
    const QString a = stamp(1764766000000, "device-a");

    QTest::newRow("a found record") << json(found()) << k1 << Status::Found << qint64(19) << milk
                                    << QString();
    QTest::newRow("a found record with its stamp")
            << edited(found(), set("hlc", a)) << k1 << Status::Found << qint64(19) << milk << a;
    QTest::newRow("a found record with hlc null")
            << edited(found(), set("hlc", QJsonValue::Null)) << k1 << Status::Found << qint64(19)
            << milk << QString();
    QTest::newRow("a found record that is an empty object")
            << edited(found(), set("data", QJsonObject())) << k1 << Status::Found << qint64(19)
            << QJsonObject() << QString();
    QTest::newRow("a found record at version 2^53 - 1")
            << json(found(k1, 9007199254740991)) << k1 << Status::Found
            << qint64(9007199254740991) << milk << QString();
    QTest::newRow("a found record under a key of 512 characters")
            << json(found(QString(512, QLatin1Char('k')))) << QString(512, QLatin1Char('k'))
            << Status::Found << qint64(19)
            << QJsonObject { { QStringLiteral("id"), QString(512, QLatin1Char('k')) },
                             { QStringLiteral("title"), QStringLiteral("Milk") } }
            << QString();
    QTest::newRow("a found record with fields this client does not know")
            << edited(found(), set("etag", QStringLiteral("W/1"))) << k1 << Status::Found
            << qint64(19) << milk << QString();
    QTest::newRow("a tombstone") << json(gone()) << k1 << Status::Gone << qint64(42)
                                 << QJsonObject() << QString();
    QTest::newRow("a tombstone with the remove's stamp")
            << edited(gone(), set("hlc", a)) << k1 << Status::Gone << qint64(42) << QJsonObject()
            << a;
    QTest::newRow("a tombstone with data null")
            << edited(gone(), set("data", QJsonValue::Null)) << k1 << Status::Gone << qint64(42)
            << QJsonObject() << QString();
    QTest::newRow("a missing key") << json(missing()) << k1 << Status::Missing << qint64(0)
                                   << QJsonObject() << QString();
    QTest::newRow("a missing key with version 0")
            << edited(missing(), set("version", 0)) << k1 << Status::Missing << qint64(0)
            << QJsonObject() << QString();
    QTest::newRow("a missing key with data and hlc null")
            << edited(missing(),
                      [](QJsonObject &o) {
                          o[QStringLiteral("data")] = QJsonValue::Null;
                          o[QStringLiteral("hlc")] = QJsonValue::Null;
                      })
            << k1 << Status::Missing << qint64(0) << QJsonObject() << QString();
    const QString reserved = QStringLiteral("a+b c&d=%25/\u00e9");
    QTest::newRow("a key with reserved characters and Unicode")
            << json(missing(reserved)) << reserved << Status::Missing << qint64(0) << QJsonObject()
            << QString();
}

void tst_Protocol::fetchWellFormed()
{
    using Status = Protocol::FetchResponse::Status;
    QFETCH(QByteArray, body);
    QFETCH(QString, key);
    QFETCH(Status, status);
    QFETCH(qint64, version);
    QFETCH(QJsonObject, data);
    QFETCH(QString, hlc);

    Protocol::FetchResponse response = sentinelFetch();
    SyncError error;
    QVERIFY2(Protocol::decodeFetchResponse(body, fetchRequest(key), &response, &error),
             qPrintable(error.toString()));
    QCOMPARE(error, SyncError());
    QCOMPARE(response.status, status);
    QCOMPARE(response.key, key);
    QCOMPARE(response.version, version);
    QCOMPARE(response.data, data);
    QCOMPARE(response.hlc, hlc);
}

void tst_Protocol::fetchMalformed_data()
{
    QTest::addColumn<QByteArray>("body");

    auto row = [](const char *tag, const QByteArray &body) { QTest::newRow(tag) << body; };
    auto set = [](const char *field, const QJsonValue &value) {
        return [field, value](QJsonObject &o) { o[QLatin1String(field)] = value; };
    };
    auto drop = [](const char *field) {
        return [field](QJsonObject &o) { o.remove(QLatin1String(field)); };
    };
    const QString a = stamp(1764766000000, "device-a");

    // the envelope
    row("a body that is not JSON", "Service Unavailable");
    row("an empty body", "");
    row("truncated JSON", json(found()).chopped(1));
    row("a JSON array at the root", "[" + json(found()) + "]");
    row("a JSON string at the root", "\"found\"");
    row("JSON null", "null");
    row("10 MiB of opening brackets", QByteArray(10 * 1024 * 1024, '['));
    row("a pull page instead", page(QJsonArray { upsert(QStringLiteral("k1"), 19) }));

    // status
    row("no status", edited(found(), drop("status")));
    row("an unknown status", edited(found(), set("status", QStringLiteral("deleted"))));
    row("a status in capitals", edited(found(), set("status", QStringLiteral("FOUND"))));
    row("a status that is a number", edited(found(), set("status", 1)));
    row("a status that is null", edited(found(), set("status", QJsonValue::Null)));
    row("a status that is a pull op", edited(found(), set("status", QStringLiteral("upsert"))));

    // key
    row("no key", edited(found(), drop("key")));
    row("another key", json(found(QStringLiteral("k2"))));
    row("the key in another case", json(found(QStringLiteral("K1"))));
    row("an empty key", json(missing(QString())));
    row("a key that is a number", edited(found(), set("key", 1)));
    row("a key that is null", edited(gone(), set("key", QJsonValue::Null)));

    // found
    row("a found record without version", edited(found(), drop("version")));
    row("a found record at version 0", json(found(QStringLiteral("k1"), 0)));
    row("a found record at a negative version", edited(found(), set("version", -19)));
    row("a found record at a fractional version", edited(found(), set("version", 19.5)));
    row("a found record whose version is a string",
        edited(found(), set("version", QStringLiteral("19"))));
    row("a found record at a version above 2^53",
        edited(found(), set("version", 9007199254740994.0)));
    row("a found record without data", edited(found(), drop("data")));
    row("a found record with data null", edited(found(), set("data", QJsonValue::Null)));
    row("a found record whose data is an array", edited(found(), set("data", QJsonArray())));
    row("a found record whose data is a string",
        edited(found(), set("data", QStringLiteral("{}"))));
    row("a found record with an hlc that is a number", edited(found(), set("hlc", 17)));
    row("a found record with an empty hlc", edited(found(), set("hlc", QString())));
    row("a found record with an hlc that is not a stamp",
        edited(found(), set("hlc", QStringLiteral("2025-12-03T12:46:40Z"))));

    // gone
    row("a tombstone without version", edited(gone(), drop("version")));
    row("a tombstone at version 0", json(gone(QStringLiteral("k1"), 0)));
    row("a tombstone at a negative version", edited(gone(), set("version", -1)));
    row("a tombstone with a data object",
        edited(gone(),
               set("data", QJsonObject { { QStringLiteral("id"), QStringLiteral("k1") } })));
    row("a tombstone with an empty data object", edited(gone(), set("data", QJsonObject())));
    row("a tombstone with data false", edited(gone(), set("data", false)));
    row("a tombstone with an hlc that is an array", edited(gone(), set("hlc", QJsonArray())));
    row("a tombstone with an hlc without a node",
        edited(gone(), set("hlc", QStringLiteral("001764766000000:000003"))));

    // missing
    row("a missing key with a version", edited(missing(), set("version", 5)));
    row("a missing key with a negative version", edited(missing(), set("version", -1)));
    row("a missing key with a version that is a string",
        edited(missing(), set("version", QStringLiteral("0"))));
    row("a missing key with data", edited(missing(), set("data", QJsonObject())));
    row("a missing key with a stamp", edited(missing(), set("hlc", a)));
    row("a missing key with an hlc that is not a stamp",
        edited(missing(), set("hlc", QStringLiteral("x"))));
}

void tst_Protocol::fetchMalformed()
{
    QFETCH(QByteArray, body);

    QElapsedTimer timer;
    timer.start();
    Protocol::FetchResponse response = sentinelFetch();
    SyncError error;
    QVERIFY(!Protocol::decodeFetchResponse(body, fetchRequest(), &response, &error));
    QVERIFY2(timer.elapsed() < QuickMs, qPrintable(QStringLiteral("%1 ms").arg(timer.elapsed())));
    QCOMPARE(error.code(), SyncError::Protocol);
    QVERIFY(error.isRetryable());
    QVERIFY(!error.message().isEmpty());
    QVERIFY2(error.detail().startsWith(QLatin1String("fetch response: ")),
             qPrintable(error.detail()));
    // Nothing of it reached the caller's value.
    QCOMPARE(response.status, Protocol::FetchResponse::Gone);
    QCOMPARE(response.key, Sentinel);
    QCOMPARE(response.version, qint64(7));
    QCOMPARE(response.hlc, Sentinel);
}

void tst_Protocol::encodeFetchResponse_data()
{
    using Status = Protocol::FetchResponse::Status;
    QTest::addColumn<Status>("status");
    QTest::addColumn<QString>("hlc");
    QTest::addColumn<QStringList>("fields");

    const QString a = stamp(1764766000000, "device-a");
    QTest::newRow("found carries version and data")
            << Status::Found << QString()
            << QStringList { QStringLiteral("data"), QStringLiteral("key"),
                             QStringLiteral("status"), QStringLiteral("version") };
    QTest::newRow("found with a stamp carries hlc")
            << Status::Found << a
            << QStringList { QStringLiteral("data"), QStringLiteral("hlc"), QStringLiteral("key"),
                             QStringLiteral("status"), QStringLiteral("version") };
    QTest::newRow("gone carries the tombstone's version, no data")
            << Status::Gone << QString()
            << QStringList { QStringLiteral("key"), QStringLiteral("status"),
                             QStringLiteral("version") };
    QTest::newRow("gone with a stamp carries hlc")
            << Status::Gone << a
            << QStringList { QStringLiteral("hlc"), QStringLiteral("key"),
                             QStringLiteral("status"), QStringLiteral("version") };
    QTest::newRow("missing carries the key alone")
            << Status::Missing << QString()
            << QStringList { QStringLiteral("key"), QStringLiteral("status") };
    QTest::newRow("missing leaves out a stamp it was given")
            << Status::Missing << a
            << QStringList { QStringLiteral("key"), QStringLiteral("status") };
}

// What a backend sends is exactly what docs/protocol.md shows, and decodes to what was meant.
void tst_Protocol::encodeFetchResponse()
{
    using Status = Protocol::FetchResponse::Status;
    QFETCH(Status, status);
    QFETCH(QString, hlc);
    QFETCH(QStringList, fields);

    Protocol::FetchResponse sent;
    sent.status = status;
    sent.key = QStringLiteral("k1");
    sent.version = status == Status::Missing ? 0 : 42;
    if (status == Status::Found)
        sent.data = QJsonObject { { QStringLiteral("id"), QStringLiteral("k1") },
                                  { QStringLiteral("note"), QJsonValue::Null } };
    sent.hlc = hlc;

    const QByteArray body = Protocol::encodeFetchResponse(sent);
    const QJsonObject o = QJsonDocument::fromJson(body).object();
    QStringList keys = o.keys();
    keys.sort();
    QCOMPARE(keys, fields);
    QCOMPARE(o.value(QLatin1String("status")).toString(),
             QString::fromLatin1(status == Status::Found ? "found"
                                         : status == Status::Gone ? "gone"
                                                                  : "missing"));

    Protocol::FetchResponse back;
    SyncError error;
    QVERIFY2(Protocol::decodeFetchResponse(body, fetchRequest(), &back, &error),
             qPrintable(error.toString()));
    QCOMPARE(back.status, sent.status);
    QCOMPARE(back.key, sent.key);
    QCOMPARE(back.version, sent.version);
    QCOMPARE(back.data, sent.data);
    QCOMPARE(back.hlc, status == Status::Missing ? QString() : hlc);
}

// --- errors -----------------------------------------------------------------------------

void tst_Protocol::errorFromResponse_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<SyncError::Code>("code");
    QTest::addColumn<bool>("retryable");
    QTest::addColumn<QString>("message"); // empty: the status-based message

    struct Expectation
    {
        int status;
        const char *serverCode;
        SyncError::Code code;
        bool retryable;
    };
    const Expectation table[] = {
        { 400, "validation", SyncError::Validation, false },
        { 401, "unauthorized", SyncError::Unauthorized, true },
        { 403, "forbidden", SyncError::Forbidden, false },
        { 404, "not-found", SyncError::Protocol, false },
        { 405, "method-not-allowed", SyncError::Protocol, false },
        { 408, "request-timeout", SyncError::Timeout, true },
        { 410, "resync-required", SyncError::Protocol, false },
        { 413, "too-large", SyncError::Validation, true },
        { 415, "unsupported-media-type", SyncError::Validation, false },
        { 429, "rate-limited", SyncError::RateLimited, true },
        { 500, "internal", SyncError::Network, true },
        { 502, "bad-gateway", SyncError::Network, true },
        { 503, "unavailable", SyncError::Network, true },
        { 504, "gateway-timeout", SyncError::Timeout, true },
    };
    for (const Expectation &e : table) {
        const QString message = QStringLiteral("the server says %1").arg(QLatin1String(e.serverCode));
        QTest::addRow("%d with a protocol error body", e.status)
                << e.status
                << protocolErrorBody(QLatin1String(e.serverCode), message, e.retryable)
                << e.code << e.retryable << message;
        QTest::addRow("%d with a garbage body", e.status)
                << e.status << QByteArray("<html><body>Bad things</body></html>") << e.code
                << e.retryable << QString();
        QTest::addRow("%d with an empty body", e.status)
                << e.status << QByteArray() << e.code << e.retryable << QString();
        QTest::addRow("%d with a JSON body of the wrong shape", e.status)
                << e.status << QByteArray("{\"error\":\"nope\"}") << e.code << e.retryable
                << QString();
    }
}

void tst_Protocol::errorFromResponse()
{
    QFETCH(int, status);
    QFETCH(QByteArray, body);
    QFETCH(SyncError::Code, code);
    QFETCH(bool, retryable);
    QFETCH(QString, message);

    const SyncError error = Protocol::errorFromResponse(status, body);
    QCOMPARE(error.code(), code);
    QCOMPARE(error.isRetryable(), retryable);
    QCOMPARE(error.httpStatus(), status);
    QCOMPARE(error.retryAfterMs(), -1);
    if (message.isEmpty()) {
        QVERIFY2(error.message().contains(QString::number(status)), qPrintable(error.message()));
    } else {
        QCOMPARE(error.message(), message);
        const QString serverCode = QJsonDocument::fromJson(body)
                                           .object()
                                           .value(QLatin1String("error"))
                                           .toObject()
                                           .value(QLatin1String("code"))
                                           .toString();
        QVERIFY2(error.detail().contains(serverCode), qPrintable(error.detail()));
    }
}

// A refusal a transport decides itself reads exactly like the server's answer of it.
void tst_Protocol::errorFromResponseOfACodeAndMessage()
{
    for (const int status : { 400, 410, 413, 503 }) {
        const QString code = status == 400 ? QStringLiteral("validation")
                                           : QStringLiteral("other");
        const QString message = QStringLiteral("key: must be 1 to 512 characters");
        const SyncError made = Protocol::errorFromResponse(status, code, message);
        QCOMPARE(made,
                 Protocol::errorFromResponse(
                         status, protocolErrorBody(code, message, status == 503)));
        QCOMPARE(made.message(), message);
        QCOMPARE(made.httpStatus(), status);
    }
    const SyncError validation = Protocol::errorFromResponse(400, QStringLiteral("validation"),
                                                             QStringLiteral("collection: missing"));
    QCOMPARE(validation.code(), SyncError::Validation);
    QVERIFY(!validation.isRetryable());
    QCOMPARE(validation.detail(), QStringLiteral("server error code: validation"));
}

void tst_Protocol::retryabilityFollowsTheStatusNotTheBody_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<bool>("bodySays");
    QTest::addColumn<bool>("retryable");

    QTest::newRow("a 400 that claims to be retryable is not") << 400 << true << false;
    QTest::newRow("a 403 that claims to be retryable is not") << 403 << true << false;
    QTest::newRow("a 503 that claims not to be retryable is") << 503 << false << true;
    QTest::newRow("a 429 that claims not to be retryable is") << 429 << false << true;
}

void tst_Protocol::retryabilityFollowsTheStatusNotTheBody()
{
    QFETCH(int, status);
    QFETCH(bool, bodySays);
    QFETCH(bool, retryable);

    const SyncError error = Protocol::errorFromResponse(
            status, protocolErrorBody(QStringLiteral("validation"), QStringLiteral("m"), bodySays));
    QCOMPARE(error.isRetryable(), retryable);
    QCOMPARE(error.message(), QStringLiteral("m"));
}

void tst_Protocol::parseRetryAfter_data()
{
    QTest::addColumn<QByteArray>("value");
    QTest::addColumn<QDateTime>("now");
    QTest::addColumn<qint64>("ms");

    const QDateTime now = fixedNow();
    QTest::newRow("3 seconds") << QByteArray("3") << now << qint64(3000);
    QTest::newRow("0 seconds") << QByteArray("0") << now << qint64(0);
    QTest::newRow("seconds padded with spaces") << QByteArray("  120 ") << now << qint64(120000);
    QTest::newRow("exactly one day") << QByteArray("86400") << now << qint64(86400000);
    QTest::newRow("one second more than a day") << QByteArray("86401") << now << qint64(-1);
    QTest::newRow("a year of seconds") << QByteArray("31536000") << now << qint64(-1);
    QTest::newRow("more seconds than 64 bits hold")
            << QByteArray("99999999999999999999999") << now << qint64(-1);
    QTest::newRow("negative seconds") << QByteArray("-5") << now << qint64(-1);
    QTest::newRow("fractional seconds") << QByteArray("1.5") << now << qint64(-1);
    QTest::newRow("seconds followed by a unit") << QByteArray("3s") << now << qint64(-1);
    QTest::newRow("garbage") << QByteArray("soon") << now << qint64(-1);
    QTest::newRow("an empty value") << QByteArray() << now << qint64(-1);
    QTest::newRow("only spaces") << QByteArray("   ") << now << qint64(-1);

    QTest::newRow("an IMF-fixdate 90 s in the future")
            << QByteArray("Tue, 15 Jan 2030 12:01:30 GMT") << now << qint64(90000);
    QTest::newRow("an IMF-fixdate a day and an hour in the future")
            << QByteArray("Wed, 16 Jan 2030 13:00:00 GMT") << now << qint64(90000000);
    QTest::newRow("an IMF-fixdate equal to now")
            << QByteArray("Tue, 15 Jan 2030 12:00:00 GMT") << now << qint64(0);
    QTest::newRow("an IMF-fixdate in the past")
            << QByteArray("Tue, 15 Jan 2030 11:59:00 GMT") << now << qint64(0);
    QTest::newRow("an IMF-fixdate years in the past")
            << QByteArray("Sun, 06 Nov 1994 08:49:37 GMT") << now << qint64(0);
    QTest::newRow("an IMF-fixdate measured from a now in another time zone")
            << QByteArray("Tue, 15 Jan 2030 12:01:30 GMT")
            << now.toOffsetFromUtc(5 * 3600) << qint64(90000);
    QTest::newRow("an IMF-fixdate with sub-second now")
            << QByteArray("Tue, 15 Jan 2030 12:00:10 GMT") << now.addMSecs(250) << qint64(9750);
    QTest::newRow("an IMF-fixdate formatted from a date")
            << imfFixdate(now.addSecs(3600)).toLatin1() << now << qint64(3600000);
    QTest::newRow("an IMF-fixdate with the wrong weekday")
            << QByteArray("Mon, 15 Jan 2030 12:01:30 GMT") << now << qint64(-1);
    QTest::newRow("a date with a numeric zone")
            << QByteArray("Tue, 15 Jan 2030 12:01:30 +0000") << now << qint64(-1);
    QTest::newRow("an IMF-fixdate on an impossible day")
            << QByteArray("Thu, 31 Feb 2030 12:01:30 GMT") << now << qint64(-1);
    QTest::newRow("an IMF-fixdate without time")
            << QByteArray("Tue, 15 Jan 2030 GMT") << now << qint64(-1);
}

void tst_Protocol::parseRetryAfter()
{
    QFETCH(QByteArray, value);
    QFETCH(QDateTime, now);
    QFETCH(qint64, ms);

    QCOMPARE(Protocol::parseRetryAfter(value, now), ms);
}

void tst_Protocol::parseRetryAfterIgnoresTheLocalTimeZone()
{
    // An HTTP date is GMT: it must not pass through the local time zone, where its wall-clock
    // time may not exist (the spring-forward gap, 02:00-03:00 on 31 March 2030 in Berlin).
    const QByteArray oldTz = qgetenv("TZ");
    const bool hadTz = qEnvironmentVariableIsSet("TZ");
    qputenv("TZ", "Europe/Berlin");
    resetTimeZone();
    auto restore = qScopeGuard([&] {
        if (hadTz)
            qputenv("TZ", oldTz);
        else
            qunsetenv("TZ");
        resetTimeZone();
    });
    // The premise: this wall-clock time does not exist locally here.
    QVERIFY2(!QDateTime(QDate(2030, 3, 31), QTime(2, 30), Qt::LocalTime).isValid()
                     || QDateTime(QDate(2030, 3, 31), QTime(2, 30), Qt::LocalTime).time()
                             != QTime(2, 30),
             "the Europe/Berlin time zone (tzdata) is needed for this test");

    const QDateTime now(QDate(2030, 3, 31), QTime(2, 0), Qt::UTC);
    QCOMPARE(Protocol::parseRetryAfter("Sun, 31 Mar 2030 02:30:00 GMT", now), qint64(1800000));
    QCOMPARE(Protocol::parseRetryAfter("Sun, 31 Mar 2030 01:30:00 GMT", now), qint64(0));
    QCOMPARE(Protocol::parseRetryAfter("Sun, 31 Mar 2030 03:30:00 GMT", now), qint64(5400000));
}

// --- requests ---------------------------------------------------------------------------

void tst_Protocol::batchId_data()
{
    QTest::addColumn<QStringList>("ids");

    QTest::newRow("no mutations") << QStringList();
    QTest::newRow("one mutation") << QStringList { QStringLiteral("0192f1c3-0000-7000-8000-000000000001") };
    QTest::newRow("three mutations")
            << QStringList { QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c") };
    QTest::newRow("non-ASCII ids hash as UTF-8")
            << QStringList { QStringLiteral("caf\u00e9"), QStringLiteral("\u65e5\u672c") };
    QTest::newRow("an empty id among others")
            << QStringList { QStringLiteral("a"), QString(), QStringLiteral("c") };
}

void tst_Protocol::batchId()
{
    QFETCH(QStringList, ids);

    QList<Protocol::PushMutation> mutations;
    for (const QString &id : ids) {
        Protocol::PushMutation m;
        m.id = id;
        m.tx = QStringLiteral("tx-is-not-hashed");
        m.key = QStringLiteral("key-is-not-hashed");
        mutations.append(m);
    }
    const QString expected = QString::fromLatin1(
            QCryptographicHash::hash(ids.join(QLatin1Char('\n')).toUtf8(), QCryptographicHash::Sha256)
                    .toHex());
    const QString id = Protocol::batchId(mutations);
    QCOMPARE(id, expected);
    QCOMPARE(id.size(), 64);
    QCOMPARE(id, id.toLower());
}

void tst_Protocol::batchIdDependsOnOrder()
{
    QList<Protocol::PushMutation> forward = pushRequest(3).mutations;
    QList<Protocol::PushMutation> backward(forward.crbegin(), forward.crend());
    QVERIFY(Protocol::batchId(forward) != Protocol::batchId(backward));
    // Deterministic: the same mutations give the same id, whatever else differs.
    QList<Protocol::PushMutation> changed = forward;
    changed[0].data = QJsonObject { { QStringLiteral("other"), 1 } };
    changed[1].baseVersion = std::nullopt;
    QCOMPARE(Protocol::batchId(changed), Protocol::batchId(forward));
}

void tst_Protocol::encodePushRequest_data()
{
    QTest::addColumn<Synq::MutationType>("op");
    QTest::addColumn<std::optional<qint64>>("baseVersion");
    QTest::addColumn<QString>("opName");
    QTest::addColumn<QStringList>("fields");

    const QStringList common { QStringLiteral("baseVersion"), QStringLiteral("collection"),
                               QStringLiteral("id"), QStringLiteral("key"), QStringLiteral("op"),
                               QStringLiteral("tx") };
    auto with = [&](const char *field) {
        QStringList f = common;
        f.append(QLatin1String(field));
        f.sort();
        return f;
    };
    QTest::newRow("an insert carries data") << MutationType::Insert << std::optional<qint64>(0)
                                            << QStringLiteral("insert") << with("data");
    QTest::newRow("an update carries changes") << MutationType::Update << std::optional<qint64>(17)
                                               << QStringLiteral("update") << with("changes");
    QTest::newRow("a remove carries neither data nor changes")
            << MutationType::Remove << std::optional<qint64>(12) << QStringLiteral("remove")
            << common;
    QTest::newRow("an overwriting update has a null baseVersion")
            << MutationType::Update << std::optional<qint64>() << QStringLiteral("update")
            << with("changes");
    QTest::newRow("an overwriting remove has a null baseVersion")
            << MutationType::Remove << std::optional<qint64>() << QStringLiteral("remove") << common;
    QTest::newRow("a large baseVersion survives")
            << MutationType::Update << std::optional<qint64>(9007199254740991)
            << QStringLiteral("update") << with("changes");
}

void tst_Protocol::encodePushRequest()
{
    QFETCH(Synq::MutationType, op);
    QFETCH(std::optional<qint64>, baseVersion);
    QFETCH(QString, opName);
    QFETCH(QStringList, fields);

    Protocol::PushMutation m;
    m.id = QStringLiteral("0192f1c3-a");
    m.tx = QStringLiteral("0192f1c3-t");
    m.collection = QStringLiteral("todos");
    m.op = op;
    m.key = QStringLiteral("k1");
    m.baseVersion = baseVersion;
    m.data = QJsonObject { { QStringLiteral("title"), QStringLiteral("Milk") },
                           { QStringLiteral("done"), false },
                           { QStringLiteral("note"), QJsonValue::Null } };
    Protocol::PushRequest request;
    request.batch = Protocol::batchId({ m });
    request.mutations = { m };

    QJsonParseError parse;
    const QJsonDocument doc = QJsonDocument::fromJson(Protocol::encodePushRequest(request), &parse);
    QCOMPARE(parse.error, QJsonParseError::NoError);
    QVERIFY(doc.isObject());
    const QJsonArray mutations = doc.object().value(QLatin1String("mutations")).toArray();
    QCOMPARE(mutations.size(), 1);
    const QJsonObject o = mutations.first().toObject();
    QStringList keys = o.keys();
    keys.sort();
    QCOMPARE(keys, fields);
    QCOMPARE(o.value(QLatin1String("id")).toString(), m.id);
    QCOMPARE(o.value(QLatin1String("tx")).toString(), m.tx);
    QCOMPARE(o.value(QLatin1String("collection")).toString(), m.collection);
    QCOMPARE(o.value(QLatin1String("op")).toString(), opName);
    QCOMPARE(o.value(QLatin1String("key")).toString(), m.key);
    const QJsonValue base = o.value(QLatin1String("baseVersion"));
    if (baseVersion) {
        QVERIFY(base.isDouble());
        QCOMPARE(base.toInteger(-1), *baseVersion);
    } else {
        QVERIFY(base.isNull());
    }
    if (op == MutationType::Insert)
        QCOMPARE(o.value(QLatin1String("data")).toObject(), m.data);
    if (op == MutationType::Update)
        QCOMPARE(o.value(QLatin1String("changes")).toObject(), m.data);
}

void tst_Protocol::encodePushRequestEnvelope()
{
    Protocol::PushRequest request = pushRequest(3);
    QJsonObject root = QJsonDocument::fromJson(Protocol::encodePushRequest(request)).object();
    QCOMPARE(root.value(QLatin1String("batch")).toString(), request.batch);
    QCOMPARE(root.value(QLatin1String("client")).toString(), QStringLiteral("client-1"));
    const QJsonArray mutations = root.value(QLatin1String("mutations")).toArray();
    QCOMPARE(mutations.size(), 3);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(mutations.at(i).toObject().value(QLatin1String("id")).toString(),
                 request.mutations.at(i).id);

    // The client id is optional: without one the field is left out, not sent empty.
    request.client.clear();
    root = QJsonDocument::fromJson(Protocol::encodePushRequest(request)).object();
    QVERIFY(!root.contains(QLatin1String("client")));
    QCOMPARE(root.value(QLatin1String("batch")).toString(), request.batch);
}

void tst_Protocol::encodePushRequestStamps_data()
{
    QTest::addColumn<Synq::MutationType>("op");
    QTest::addColumn<QString>("hlc");

    const QString a = stamp(1764766000000, "0192f1c3-device");
    QTest::newRow("a stamped insert carries hlc") << MutationType::Insert << a;
    QTest::newRow("a stamped update carries hlc") << MutationType::Update << a;
    QTest::newRow("a stamped remove carries hlc") << MutationType::Remove << a;
    QTest::newRow("a mutation without a stamp leaves hlc out") << MutationType::Update << QString();
}

// A stamp goes out as the client made it, and a result that hands it back decodes to the same
// stamp: the round trip a LastWriteWins comparison depends on.
void tst_Protocol::encodePushRequestStamps()
{
    QFETCH(Synq::MutationType, op);
    QFETCH(QString, hlc);

    Protocol::PushRequest request = pushRequest(1);
    request.mutations[0].op = op;
    request.mutations[0].hlc = hlc;
    const QJsonObject sent = QJsonDocument::fromJson(Protocol::encodePushRequest(request))
                                     .object()
                                     .value(QLatin1String("mutations"))
                                     .toArray()
                                     .first()
                                     .toObject();
    QCOMPARE(sent.contains(QLatin1String("hlc")), !hlc.isEmpty());
    if (hlc.isEmpty())
        return;
    QCOMPARE(sent.value(QLatin1String("hlc")), QJsonValue(hlc));

    QJsonObject result = applied(QStringLiteral("m1"), QStringLiteral("k1"), 41);
    result.insert(QStringLiteral("hlc"), sent.value(QLatin1String("hlc")));
    Protocol::PushResponse response;
    SyncError error;
    QVERIFY2(Protocol::decodePushResponse(json(QJsonObject { { QStringLiteral("results"),
                                                               QJsonArray { result } } }),
                                          request, &response, &error),
             qPrintable(error.toString()));
    QCOMPARE(response.results.first().hlc, hlc);
    const std::optional<HybridClock::Timestamp> back =
            HybridClock::parse(response.results.first().hlc);
    QVERIFY(back);
    QCOMPARE(back->wallMs, qint64(1764766000000));
    QCOMPARE(back->node, QStringLiteral("0192f1c3-device"));
}

void tst_Protocol::encodePushRequestMetadata_data()
{
    QTest::addColumn<QJsonValue>("metadata");
    QTest::addColumn<bool>("sent");

    QTest::newRow("an object goes out as given")
            << QJsonValue(QJsonObject { { QStringLiteral("reason"), QStringLiteral("bulk edit") },
                                        { QStringLiteral("tags"), QJsonArray { 1, true } } })
            << true;
    QTest::newRow("an array goes out as given") << QJsonValue(QJsonArray { 1, 2 }) << true;
    QTest::newRow("a string goes out as given") << QJsonValue(QStringLiteral("undo")) << true;
    QTest::newRow("a number goes out as given") << QJsonValue(0) << true;
    QTest::newRow("false goes out as given") << QJsonValue(false) << true;
    QTest::newRow("an empty object goes out as given") << QJsonValue(QJsonObject()) << true;
    QTest::newRow("null is none: left out") << QJsonValue(QJsonValue::Null) << false;
    QTest::newRow("undefined is none: left out") << QJsonValue(QJsonValue::Undefined) << false;
}

void tst_Protocol::encodePushRequestMetadata()
{
    QFETCH(QJsonValue, metadata);
    QFETCH(bool, sent);

    for (const MutationType op :
         { MutationType::Insert, MutationType::Update, MutationType::Remove }) {
        Protocol::PushRequest request = pushRequest(1);
        request.mutations[0].op = op;
        request.mutations[0].metadata = metadata;
        const QJsonObject o = QJsonDocument::fromJson(Protocol::encodePushRequest(request))
                                      .object()
                                      .value(QLatin1String("mutations"))
                                      .toArray()
                                      .first()
                                      .toObject();
        QCOMPARE(o.contains(QLatin1String("metadata")), sent);
        if (sent)
            QCOMPARE(o.value(QLatin1String("metadata")), metadata);
        // Everything else is as without metadata.
        Protocol::PushRequest plain = request;
        plain.mutations[0].metadata = QJsonValue();
        QJsonObject withoutMetadata = o;
        withoutMetadata.remove(QLatin1String("metadata"));
        QCOMPARE(withoutMetadata, QJsonDocument::fromJson(Protocol::encodePushRequest(plain))
                                          .object()
                                          .value(QLatin1String("mutations"))
                                          .toArray()
                                          .first()
                                          .toObject());
    }
}

void tst_Protocol::checkHlc_data()
{
    QTest::addColumn<QString>("hlc");
    QTest::addColumn<QString>("problem"); // a part of the problem; empty: a stamp

    const QString wallAndCounter = QStringLiteral("001764766000000:000003:");
    QTest::newRow("a stamp from format()") << stamp(1764766000000, "node") << QString();
    QTest::newRow("the smallest stamp") << QStringLiteral("000000000000000:000000:") << QString();
    QTest::newRow("the largest wall time and counter")
            << QStringLiteral("999999999999999:999999:n") << QString();
    QTest::newRow("a node of 128 characters")
            << wallAndCounter + QString(Protocol::MaxIdLength, QLatin1Char('n')) << QString();
    QTest::newRow("a node in Cyrillic") << wallAndCounter + QStringLiteral("узел") << QString();
    QTest::newRow("an empty value") << QString() << QStringLiteral("not a hybrid logical clock");
    QTest::newRow("a node of 129 characters")
            << wallAndCounter + QString(Protocol::MaxIdLength + 1, QLatin1Char('n'))
            << QStringLiteral("at most 151 characters");
    QTest::newRow("a NUL in the node")
            << wallAndCounter + QStringLiteral("a") + QChar(0) << QStringLiteral("NUL");
    QTest::newRow("a lone surrogate in the node")
            << wallAndCounter + QChar(0xd800) << QStringLiteral("invalid UTF-16");
    QTest::newRow("a wall time of 14 digits")
            << QStringLiteral("01764766000000:000003:node") << QStringLiteral("not a hybrid");
    QTest::newRow("a counter of 7 digits")
            << QStringLiteral("001764766000000:0000003:node") << QStringLiteral("not a hybrid");
    QTest::newRow("letters in the wall time")
            << QStringLiteral("00176476600000x:000003:node") << QStringLiteral("not a hybrid");
    QTest::newRow("a colon in the node")
            << QStringLiteral("001764766000000:000003:a:b") << QStringLiteral("not a hybrid");
    QTest::newRow("padding around the stamp")
            << QStringLiteral(" 001764766000000:000003:node") << QStringLiteral("not a hybrid");
}

void tst_Protocol::checkHlc()
{
    QFETCH(QString, hlc);
    QFETCH(QString, problem);

    const std::optional<QString> found = Protocol::checkHlc(hlc);
    if (problem.isEmpty()) {
        QVERIFY2(!found, qPrintable(found.value_or(QString())));
        return;
    }
    QVERIFY(found);
    QVERIFY2(found->contains(problem), qPrintable(*found));
}

QTEST_GUILESS_MAIN(tst_Protocol)

#include "tst_protocol.moc"
