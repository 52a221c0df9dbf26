// SPDX-License-Identifier: BSD-3-Clause
//
// The push rules (docs/protocol.md, Push) through both backends: every row sends the same
// pushes to a fresh TestBackend (its transport) and to a fresh synq-server process on
// 127.0.0.1 (through HttpTransport), and both must answer alike, mutation by mutation, hold
// the same records afterwards and answer a fetch of each key alike. synq-server is the reference: where they differ,
// TestBackend is wrong.

#include "pushmutations.h"
#include "serverprocess.h"

#include <synq/httptransport.h>
#include <synq/testbackend.h>

#include <QtCore/QJsonDocument>
#include <QtTest/QTest>

#include <memory>

using namespace Synq;
using Synq::Protocol::PushMutation;
using Synq::Protocol::PushResult;
using Synq::Testing::TestBackend;
using SynqTest::mutation;

namespace {

constexpr int AnswerTimeoutMs = 20000;

using Base = std::optional<qint64>;
constexpr std::nullopt_t Unchecked = std::nullopt;

QString s(const char *text)
{
    return QString::fromUtf8(text);
}

// Each helper makes one mutation; without a tx it is a transaction of its own.
PushMutation insertOf(const char *id, const char *key, Base base, const char *title,
                      const char *tx = "", const char *collection = "todos")
{
    return mutation(id, *tx ? tx : id, MutationType::Insert, key, base,
                    QJsonObject { { s("id"), s(key) }, { s("title"), s(title) } }, collection);
}

PushMutation updateOf(const char *id, const char *key, Base base, const QJsonObject &changes,
                      const char *tx = "", const char *collection = "todos")
{
    return mutation(id, *tx ? tx : id, MutationType::Update, key, base, changes, collection);
}

PushMutation updateOf(const char *id, const char *key, Base base, const char *title,
                      const char *tx = "", const char *collection = "todos")
{
    return updateOf(id, key, base, QJsonObject { { s("title"), s(title) } }, tx, collection);
}

PushMutation removeOf(const char *id, const char *key, Base base, const char *tx = "",
                      const char *collection = "todos")
{
    return mutation(id, *tx ? tx : id, MutationType::Remove, key, base, QJsonObject(),
                    collection);
}

// m carrying the hybrid logical clock stamp hlc.
PushMutation stamped(PushMutation m, const char *hlc)
{
    m.hlc = s(hlc);
    return m;
}

// Stamps as clients write them (HybridClock::format()).
constexpr const char *StampA = "001764766000000:000000:device-a";
constexpr const char *StampB = "001764766000000:000001:device-b";
constexpr const char *StampC = "001764766000123:000000:device-a";

// Setup that leaves `key` written `times` times (insert, then unchecked updates): with
// nothing else set up before, at version `times`.
QList<PushMutation> written(const char *key, int times)
{
    QList<PushMutation> list { insertOf(qPrintable(s("w-%1-1").arg(s(key))), key, Unchecked,
                                        "v1") };
    for (int i = 2; i <= times; ++i) {
        const QByteArray id = QStringLiteral("w-%1-%2").arg(s(key)).arg(i).toUtf8();
        list.append(updateOf(id.constData(), key, Unchecked, qPrintable(s("v%1").arg(i))));
    }
    return list;
}

QString json(const QJsonObject &object)
{
    return QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
}

QString describe(const SyncError &e)
{
    if (!e.isError())
        return s("no error");
    return QStringLiteral("%1 retryable=%2 http=%3 \"%4\" (%5)")
            .arg(e.codeName())
            .arg(e.isRetryable())
            .arg(e.httpStatus())
            .arg(e.message(), e.detail());
}

// One result on one line, everything the protocol says about it.
QString describe(const PushResult &r)
{
    static const char *const statuses[] = { "applied", "conflict", "rejected", "retry" };
    return QStringLiteral("%1 %2 key=%3 version=%4 deleted=%5 record=%6 hlc=%7 error=%8")
            .arg(r.id, s(statuses[r.status]), r.key)
            .arg(r.version)
            .arg(r.deleted)
            .arg(r.record ? json(*r.record) : s("none"), r.hlc.isEmpty() ? s("none") : r.hlc,
                 describe(r.error));
}

// What a backend answered to one push: the results, one line each, or the request's error.
struct Answer
{
    bool answered = false;
    QStringList lines;
};

// What a backend holds: a full pull of each collection, one line per live record.
QStringList holdings(const QList<Protocol::Change> &changes)
{
    QStringList lines;
    for (const Protocol::Change &c : changes)
        lines.append(QStringLiteral("%1/%2 version=%3 hlc=%4 %5")
                             .arg(c.collection, c.key)
                             .arg(c.version)
                             .arg(c.hlc.isEmpty() ? s("none") : c.hlc, json(c.data)));
    lines.sort();
    return lines;
}

// A fetch answer, or its error, on one line.
QString describe(const QString &collection, const QString &key,
                 const Protocol::FetchResponse &r, const SyncError &error)
{
    static const char *const statuses[] = { "found", "gone", "missing" };
    if (error.isError())
        return QStringLiteral("%1/%2 refused: %3").arg(collection, key, describe(error));
    return QStringLiteral("%1/%2 %3 key=%4 version=%5 hlc=%6 data=%7")
            .arg(collection, key, s(statuses[r.status]), r.key)
            .arg(r.version)
            .arg(r.hlc.isEmpty() ? s("none") : r.hlc, json(r.data));
}

// A readable diff of two answers: the lines that differ, side by side.
QString diff(const QString &what, const QStringList &testBackend, const QStringList &server)
{
    QString text = QStringLiteral("%1 differ:\n").arg(what);
    for (qsizetype i = 0; i < qMax(testBackend.size(), server.size()); ++i) {
        const QString a = testBackend.value(i, s("(nothing)"));
        const QString b = server.value(i, s("(nothing)"));
        text += QStringLiteral("%1 [%2]\n   TestBackend: %3\n   synq-server: %4\n")
                        .arg(a == b ? s(" ") : s("*"))
                        .arg(i)
                        .arg(a, b);
    }
    return text;
}

} // namespace

class tst_PushRulesParity : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void sameAnswers_data();
    void sameAnswers();
    void sameRefusals_data();
    void sameRefusals();

private:
    Answer push(SyncTransport *transport, const QList<PushMutation> &mutations,
                bool withBatchId = true);
    QStringList pullAll(SyncTransport *transport, const QStringList &collections);
    // A fetch of every key in every collection, one line each.
    QStringList fetchAll(SyncTransport *transport, const QStringList &collections,
                         const QStringList &keys);
    void startBoth();

    std::unique_ptr<TestBackend> m_backend;
    std::unique_ptr<SynqTest::ServerProcess> m_server;
    std::unique_ptr<HttpTransport> m_http;
};

void tst_PushRulesParity::init()
{
    m_backend = std::make_unique<TestBackend>();
    m_server = std::make_unique<SynqTest::ServerProcess>();
    m_http = std::make_unique<HttpTransport>();
}

void tst_PushRulesParity::cleanup()
{
    m_http.reset();
    if (m_server)
        m_server->stop();
    m_server.reset();
    m_backend.reset();
}

void tst_PushRulesParity::startBoth()
{
    // "notes" has server-assigned keys in both.
    m_server->setExtraArguments({ s("--server-assigned-keys"), s("notes") });
    m_backend->setServerAssignedKeys(s("notes"));
    QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    m_http->setUrl(m_server->url());
    m_http->setTimeoutMs(AnswerTimeoutMs);
}

Answer tst_PushRulesParity::push(SyncTransport *transport, const QList<PushMutation> &mutations,
                                 bool withBatchId)
{
    Protocol::PushRequest request;
    request.client = s("tst_pushrulesparity");
    request.mutations = mutations;
    if (withBatchId)
        request.batch = Protocol::batchId(mutations);
    auto answer = std::make_shared<Answer>();
    transport->push(request,
                    [answer](const Protocol::PushResponse &response, const SyncError &error) {
                        answer->answered = true;
                        if (error.isError())
                            answer->lines.append(s("refused: ") + describe(error));
                        for (const PushResult &r : response.results)
                            answer->lines.append(describe(r));
                    });
    if (!QTest::qWaitFor([answer] { return answer->answered; }, AnswerTimeoutMs))
        answer->lines = QStringList { s("(no answer in time)") };
    return *answer;
}

QStringList tst_PushRulesParity::pullAll(SyncTransport *transport, const QStringList &collections)
{
    QList<Protocol::Change> changes;
    for (const QString &collection : collections) {
        QString cursor;
        for (int page = 0; page < 100; ++page) {
            Protocol::PullRequest request;
            request.collection = collection;
            request.cursor = cursor;
            request.limit = 1000;
            bool answered = false;
            Protocol::PullResponse got;
            SyncError error;
            transport->pull(request,
                            [&](const Protocol::PullResponse &response, const SyncError &e) {
                                answered = true;
                                got = response;
                                error = e;
                            });
            if (!QTest::qWaitFor([&] { return answered; }, AnswerTimeoutMs) || error.isError())
                return QStringList { s("pull failed: ") + describe(error) };
            changes.append(got.changes);
            cursor = got.cursor;
            if (!got.hasMore)
                break;
        }
    }
    return holdings(changes);
}

QStringList tst_PushRulesParity::fetchAll(SyncTransport *transport,
                                          const QStringList &collections, const QStringList &keys)
{
    QStringList lines;
    for (const QString &collection : collections) {
        for (const QString &key : keys) {
            bool answered = false;
            QString line;
            transport->fetch(Protocol::FetchRequest { collection, key },
                             [&](const Protocol::FetchResponse &response, const SyncError &e) {
                                 answered = true;
                                 line = describe(collection, key, response, e);
                             });
            if (!QTest::qWaitFor([&] { return answered; }, AnswerTimeoutMs))
                line = collection + QLatin1Char('/') + key + s(" (no answer in time)");
            lines.append(line);
        }
    }
    return lines;
}

void tst_PushRulesParity::sameAnswers_data()
{
    QTest::addColumn<QList<PushMutation>>("setup"); // each pushed alone, each must apply
    QTest::addColumn<QList<PushMutation>>("batch");

    using L = QList<PushMutation>;
    const L none;
    const L a1 = written("a", 1); // a at version 1
    const L a2 = written("a", 2); // a at version 2
    const L aRemoved = L { insertOf("w1", "a", 0, "Milk"), removeOf("w2", "a", 1) }; // 2
    const QJsonObject done { { s("done"), true } };

    // One operation against each state of the record.
    QTest::newRow("an insert of a new key is applied")
            << none << L { insertOf("m1", "a", 0, "Milk") };
    QTest::newRow("an insert on a live key conflicts with the server's record")
            << a1 << L { insertOf("m1", "a", 0, "Bread") };
    QTest::newRow("an insert on a live key conflicts whatever its base")
            << a2 << L { insertOf("m1", "a", 2, "Bread") };
    QTest::newRow("an unchecked insert overwrites a live record")
            << a2 << L { insertOf("m1", "a", Unchecked, "Bread") };
    QTest::newRow("an insert on a removed key writes it anew")
            << aRemoved << L { insertOf("m1", "a", 0, "Bread") };
    QTest::newRow("an update at the current version is applied")
            << a2 << L { updateOf("m1", "a", 2, "Oat milk") };
    QTest::newRow("an update on a stale base conflicts")
            << a2 << L { updateOf("m1", "a", 1, "Oat milk") };
    QTest::newRow("an update on a base from the future conflicts")
            << a2 << L { updateOf("m1", "a", 7, "Oat milk") };
    QTest::newRow("an unchecked update applies at any version")
            << a2 << L { updateOf("m1", "a", Unchecked, "Oat milk") };
    QTest::newRow("an update of a never-written key conflicts as deleted at version 0")
            << none << L { updateOf("m1", "a", 0, "Milk") };
    QTest::newRow("an unchecked update of a never-written key conflicts too")
            << none << L { updateOf("m1", "a", Unchecked, "Milk") };
    QTest::newRow("an update of a removed key conflicts even unchecked")
            << aRemoved << L { updateOf("m1", "a", Unchecked, "Milk") };
    QTest::newRow("an update keeps the fields it does not change and sets nulls")
            << a1
            << L { updateOf("m1", "a", 1, QJsonObject { { s("done"), true },
                                                        { s("title"), QJsonValue::Null } }) };
    QTest::newRow("a remove at the current version is applied")
            << a2 << L { removeOf("m1", "a", 2) };
    QTest::newRow("a remove on a stale base conflicts") << a2 << L { removeOf("m1", "a", 1) };
    QTest::newRow("an unchecked remove applies at any version")
            << a2 << L { removeOf("m1", "a", Unchecked) };
    QTest::newRow("removing a removed key writes a new tombstone")
            << aRemoved << L { removeOf("m1", "a", 5) };
    QTest::newRow("removing a never-written key writes a tombstone")
            << none << L { removeOf("m1", "a", 0) };

    // Several mutations on one key in one batch.
    QTest::newRow("update K on base 5, then update K on base 3")
            << written("K", 5)
            << L { updateOf("m1", "K", 5, "six"), updateOf("m2", "K", 3, "seven") };
    QTest::newRow("two updates made on the same synced version both apply")
            << a1 << L { updateOf("m1", "a", 1, "Oat milk"), updateOf("m2", "a", 1, "Soy milk") };
    QTest::newRow("an update rebased on the earlier one applies")
            << a1 << L { updateOf("m1", "a", 1, "Oat milk"), updateOf("m2", "a", 2, "Soy milk") };
    QTest::newRow("a later base older than the earlier one's is checked against what it made")
            << a2 << L { updateOf("m1", "a", 2, "Soy milk"), updateOf("m2", "a", 1, "Rice") };
    QTest::newRow("an unchecked update after a checked one applies")
            << a1 << L { updateOf("m1", "a", 1, "Oat"), updateOf("m2", "a", Unchecked, "Soy") };
    QTest::newRow("an update made on an unsynced insert follows it")
            << none << L { insertOf("m1", "a", 0, "Milk"), updateOf("m2", "a", 0, "Oat milk") };
    QTest::newRow("insert, update and remove of one key in separate transactions")
            << none
            << L { insertOf("m1", "a", 0, "Milk"), updateOf("m2", "a", 0, "Oat milk"),
                   removeOf("m3", "a", 0) };
    QTest::newRow("insert, update and remove of one key in one transaction")
            << none
            << L { insertOf("m1", "a", 0, "Milk", "t1"), updateOf("m2", "a", 0, "Oat", "t1"),
                   removeOf("m3", "a", 0, "t1") };
    QTest::newRow("a second insert after a remove in the same batch writes the key anew")
            << a1 << L { removeOf("m1", "a", 1), insertOf("m2", "a", 1, "Bread") };
    QTest::newRow("a second checked insert of a key the batch inserted conflicts")
            << none << L { insertOf("m1", "a", 0, "Milk"), insertOf("m2", "a", 0, "Bread") };
    QTest::newRow("an update after a remove in the same batch conflicts as deleted")
            << a1 << L { removeOf("m1", "a", 1), updateOf("m2", "a", 2, "Oat milk") };

    // All or nothing, and what a failed transaction leaves behind.
    QTest::newRow("a conflict aborts the rest of its transaction")
            << a2
            << L { insertOf("m1", "b", 0, "Tea", "t1"), updateOf("m2", "a", 1, "Soy", "t1"),
                   insertOf("m3", "c", 0, "Jam", "t1") };
    QTest::newRow("transactions of one batch succeed or fail independently")
            << a2
            << L { insertOf("m1", "b", 0, "Tea", "t1"), updateOf("m2", "a", 1, "Soy", "t1"),
                   insertOf("m3", "c", 0, "Jam", "t2") };
    QTest::newRow("a failed transaction's write does not count for the next one on the key")
            << written("K", 5)
            << L { updateOf("m1", "K", 5, "six", "t1"), insertOf("m2", "K", 0, "dup", "t1"),
                   updateOf("m3", "K", 5, "six again", "t2") };
    QTest::newRow("after a failed transaction the base it would have made conflicts")
            << written("K", 5)
            << L { updateOf("m1", "K", 5, "six", "t1"), insertOf("m2", "K", 0, "dup", "t1"),
                   updateOf("m3", "K", 6, "seven", "t2") };
    QTest::newRow("a failed transaction keeps the facts of the ones before it")
            << written("K", 5)
            << L { updateOf("m1", "K", 5, "six", "t1"), updateOf("m2", "K", 5, "seven", "t2"),
                   insertOf("m3", "b", 0, "dup", "t2"), insertOf("m4", "b", 0, "dup", "t2"),
                   updateOf("m5", "K", 3, "eight", "t3") };
    QTest::newRow("after a failed change a later one is checked against its own base")
            << a2
            << L { updateOf("m1", "a", 1, "Soy"), updateOf("m2", "a", 1, "Rice"),
                   updateOf("m3", "a", 2, "Oat drink") };
    QTest::newRow("a failed remove leaves the record for the next transaction")
            << a2 << L { removeOf("m1", "a", 1), updateOf("m2", "a", 2, "Oat") };
    QTest::newRow("a conflict on a removed key aborts an insert of another key")
            << aRemoved
            << L { insertOf("m1", "b", 0, "Tea", "t1"), updateOf("m2", "a", 2, "Milk", "t1") };
    QTest::newRow("the first conflict of a transaction is the cause, later ones are aborted")
            << a2
            << L { updateOf("m1", "a", 1, "Soy", "t1"), updateOf("m2", "b", 0, "Tea", "t1") };

    // Idempotent replays of mutation ids applied before.
    const L insertA { insertOf("s1", "a", 0, "Milk") };
    QTest::newRow("a replayed insert returns its stored result")
            << insertA << L { insertOf("s1", "a", 0, "Milk") };
    QTest::newRow("a replay returns its stored result whatever it carries now")
            << insertA << L { insertOf("s1", "a", 7, "Bread") };
    QTest::newRow("a replay returns its stored result after the record moved on")
            << L { insertOf("s1", "a", 0, "Milk"), updateOf("s2", "a", 1, "Oat") }
            << L { insertOf("s1", "a", 0, "Milk") };
    QTest::newRow("a replayed insert's version counts for a later update of its key")
            << insertA << L { insertOf("s1", "a", 0, "Milk"), updateOf("m2", "a", 0, "Oat") };
    QTest::newRow("a replay's old version makes a later checked update conflict")
            << L { insertOf("s1", "a", 0, "Milk"), updateOf("s2", "a", 1, "Oat") }
            << L { insertOf("s1", "a", 0, "Milk"), updateOf("m2", "a", 2, "Soy") };
    QTest::newRow("a replay next to new mutations: only the new ones are applied")
            << insertA << L { insertOf("s1", "a", 0, "Milk"), insertOf("m2", "b", 0, "Tea") };
    QTest::newRow("a replay inside a transaction whose new mutation conflicts stays applied")
            << insertA
            << L { insertOf("s1", "a", 0, "Milk", "t1"), insertOf("m2", "b", 0, "Tea", "t1"),
                   updateOf("m3", "c", 0, "Jam", "t1") };
    QTest::newRow("a transaction of nothing but replays")
            << L { insertOf("s1", "a", 0, "Milk", "t1"), insertOf("s2", "b", 0, "Tea", "t2") }
            << L { insertOf("s1", "a", 0, "Milk", "t1"), insertOf("s2", "b", 0, "Tea", "t1") };
    QTest::newRow("a replayed remove counts for a later insert of its key")
            << L { insertOf("s1", "a", 0, "Milk"), removeOf("s2", "a", 1) }
            << L { removeOf("s2", "a", 1), insertOf("m3", "a", 2, "Bread") };

    // A collection whose keys the server assigns.
    QTest::newRow("an insert into a server-keyed collection gets the server's key")
            << none << L { insertOf("m1", "a", 0, "Milk", "", "notes") };
    QTest::newRow("later mutations of the push on the client's key go to the server's")
            << none
            << L { insertOf("m1", "a", 0, "Milk", "", "notes"),
                   updateOf("m2", "a", 0, "Oat milk", "", "notes"),
                   insertOf("m3", "b", 0, "Tea", "t3", "notes"), removeOf("m4", "b", 0, "t3",
                                                                          "notes") };
    QTest::newRow("two inserts under one client key make two records")
            << none
            << L { insertOf("m1", "a", 0, "Milk", "", "notes"),
                   insertOf("m2", "a", 0, "Bread", "", "notes") };
    QTest::newRow("an unchecked insert into a server-keyed collection gets a key too")
            << none << L { insertOf("m1", "a", Unchecked, "Milk", "", "notes") };
    QTest::newRow("a failed transaction takes its assigned key back")
            << none
            << L { insertOf("m1", "a", 0, "Milk", "t1", "notes"),
                   updateOf("m2", "zz", 0, "Nothing", "t1"),
                   insertOf("m3", "b", 0, "Tea", "t2", "notes") };

    // Hybrid logical clock stamps: kept with each write, handed back in results.
    const L aStamped { stamped(insertOf("w1", "a", 0, "Milk"), StampA) }; // a at 1, stamp A
    QTest::newRow("a stamped insert is applied with its stamp")
            << none << L { stamped(insertOf("m1", "a", 0, "Milk"), StampA) };
    QTest::newRow("a conflict carries the stamp of the insert that made the record")
            << aStamped << L { stamped(updateOf("m1", "a", 0, "Oat"), StampB) };
    QTest::newRow("an applied update's stamp replaces the insert's")
            << aStamped
            << L { stamped(updateOf("m1", "a", 1, "Oat"), StampB),
                   stamped(insertOf("m2", "a", 0, "Tea"), StampC) };
    QTest::newRow("a conflict on a tombstone carries the remove's stamp")
            << L { stamped(insertOf("w1", "a", 0, "Milk"), StampA),
                   stamped(removeOf("w2", "a", 1), StampB) }
            << L { stamped(updateOf("m1", "a", 2, "Oat"), StampC) };
    QTest::newRow("a write without a stamp leaves the record without one")
            << L { stamped(insertOf("w1", "a", 0, "Milk"), StampA), updateOf("w2", "a", 1, "Oat") }
            << L { stamped(updateOf("m1", "a", 1, "Soy"), StampB) };
    QTest::newRow("a conflict on a never-written key carries no stamp")
            << none << L { stamped(updateOf("m1", "a", 0, "Milk"), StampA) };
    QTest::newRow("a replay returns the stamp stored with it, not the one it carries now")
            << L { stamped(insertOf("s1", "a", 0, "Milk"), StampA) }
            << L { stamped(insertOf("s1", "a", 0, "Milk"), StampC) };
    QTest::newRow("a failed transaction takes its stamps back")
            << aStamped
            << L { stamped(updateOf("m1", "a", 1, "Oat", "t1"), StampB),
                   stamped(updateOf("m2", "zz", 0, "Nothing", "t1"), StampB),
                   stamped(insertOf("m3", "a", 0, "Tea", "t2"), StampC) };
    QTest::newRow("an insert under a server-assigned key keeps its stamp")
            << none
            << L { stamped(insertOf("m1", "a", 0, "Milk", "", "notes"), StampA),
                   stamped(updateOf("m2", "a", 0, "Oat", "", "notes"), StampB),
                   stamped(insertOf("m3", "b", 0, "Tea", "", "notes"), StampC) };

    // Keys are per collection.
    QTest::newRow("the same key in two collections are two records")
            << a1
            << L { insertOf("m1", "a", 0, "Other", "", "lists"),
                   updateOf("m2", "a", 1, done, "", "todos"),
                   updateOf("m3", "a", 1, done, "", "lists") };
    QTest::newRow("a chain on a key does not reach the same key in another collection")
            << L { insertOf("w1", "a", 0, "Milk"), insertOf("w2", "a", 0, "List", "", "lists") }
            << L { updateOf("m1", "a", 1, done, "", "todos"),
                   updateOf("m2", "a", 1, done, "", "lists") };
}

void tst_PushRulesParity::sameAnswers()
{
    QFETCH(QList<PushMutation>, setup);
    QFETCH(QList<PushMutation>, batch);

    startBoth();
    if (QTest::currentTestFailed())
        return;
    for (const PushMutation &m : std::as_const(setup)) {
        const Answer local = push(m_backend->transport(), { m });
        const Answer remote = push(m_http.get(), { m });
        QVERIFY2(local.lines == remote.lines, qPrintable(diff(s("set-up answers"), local.lines,
                                                                remote.lines)));
        QVERIFY2(remote.lines.value(0).contains(s(" applied ")),
                 qPrintable(s("set-up not applied: ") + remote.lines.value(0)));
    }

    const Answer local = push(m_backend->transport(), batch);
    const Answer remote = push(m_http.get(), batch);
    QVERIFY2(local.answered && remote.answered, "a backend did not answer");
    QVERIFY2(local.lines == remote.lines,
             qPrintable(diff(s("the results"), local.lines, remote.lines)));

    const QStringList collections { s("todos"), s("lists"), s("notes") };
    const QStringList localHoldings = pullAll(m_backend->transport(), collections);
    const QStringList remoteHoldings = pullAll(m_http.get(), collections);
    QVERIFY2(localHoldings == remoteHoldings,
             qPrintable(diff(s("the records held afterwards"), localHoldings, remoteHoldings)));

    // Every key the row names, the keys the backends handed out, and one never written:
    // found, gone (tombstones) and missing alike.
    QStringList keys { s("never-written") };
    for (const PushMutation &m : setup + batch)
        keys.append(m.key);
    for (const QString &line : remote.lines) {
        const qsizetype at = line.indexOf(s(" key="));
        if (at >= 0)
            keys.append(line.mid(at + 5).section(QLatin1Char(' '), 0, 0));
    }
    keys.removeDuplicates();
    const QStringList localFetches = fetchAll(m_backend->transport(), collections, keys);
    const QStringList remoteFetches = fetchAll(m_http.get(), collections, keys);
    QVERIFY2(localFetches == remoteFetches,
             qPrintable(diff(s("the fetches afterwards"), localFetches, remoteFetches)));
}

void tst_PushRulesParity::sameRefusals_data()
{
    QTest::addColumn<QList<PushMutation>>("batch");
    QTest::addColumn<bool>("withBatchId");

    using L = QList<PushMutation>;
    auto row = [](const char *tag, const L &batch, bool withBatchId = true) {
        QTest::newRow(tag) << batch << withBatchId;
    };
    const PushMutation ok = insertOf("m0", "z", 0, "Fine");
    PushMutation noTx = insertOf("m1", "a", 0, "A");
    noTx.tx.clear();
    PushMutation nulKey = insertOf("m1", "a", 0, "A");
    nulKey.key += QChar(0);
    L tooMany;
    for (int i = 0; i <= Protocol::MaxMutationsPerPush; ++i) {
        const QByteArray id = "m" + QByteArray::number(i);
        tooMany.append(insertOf(id.constData(), id.constData(), 0, "x"));
    }

    row("a push without a batch id is refused", L { ok }, false);
    row("an empty push is refused", L());
    row("a mutation id twice in one push is refused",
        L { ok, insertOf("m1", "a", 0, "A"), insertOf("m1", "b", 0, "B") });
    row("a transaction that is not adjacent is refused",
        L { ok, insertOf("m1", "a", 0, "A", "t1"), insertOf("m2", "b", 0, "B", "t2"),
            insertOf("m3", "c", 0, "C", "t1") });
    row("a collection that is not an identifier is refused",
        L { ok, insertOf("m1", "a", 0, "A", "", "1 drop") });
    row("a collection named like SQLite's own is refused",
        L { ok, insertOf("m1", "a", 0, "A", "", "sqlite_master") });
    row("an empty key is refused", L { ok, insertOf("m1", "", 0, "A") });
    row("a key of 513 characters is refused",
        L { ok, insertOf("m1", QByteArray(513, 'k').constData(), 0, "A") });
    row("a key with a NUL character is refused", L { ok, nulKey });
    row("an empty mutation id is refused", L { ok, insertOf("", "a", 0, "A") });
    row("a mutation id of 129 characters is refused",
        L { ok, insertOf(QByteArray(129, 'i').constData(), "a", 0, "A") });
    row("an empty transaction id is refused", L { ok, noTx });
    row("an update without changes is refused", L { ok, updateOf("m1", "a", 0, QJsonObject()) });
    row("a negative base version is refused", L { ok, updateOf("m1", "a", -1, "A") });
    row("the first defect is the one reported", L { ok, updateOf("m1", "", -1, QJsonObject()) });
    row("more mutations than a push may carry are refused as too large", tooMany);
    row("a stamp that is not a hybrid logical clock stamp is refused",
        L { ok, stamped(insertOf("m1", "a", 0, "A"), "2025-12-03T12:46:40Z") });
    row("a stamp without a node is refused",
        L { ok, stamped(removeOf("m1", "a", 0), "001764766000000:000003") });
    PushMutation nulStamp = insertOf("m1", "a", 0, "A");
    nulStamp.hlc = s("001764766000000:000003:a") + QChar(0);
    row("a stamp with a NUL character is refused", L { ok, nulStamp });
    PushMutation longStamp = updateOf("m1", "a", 0, "A");
    longStamp.hlc = s("001764766000000:000003:") + QString(129, QLatin1Char('n'));
    row("a stamp whose node is too long is refused", L { ok, longStamp });
    row("a defect of a mutation is reported before its bad stamp",
        L { ok, stamped(updateOf("m1", "a", -1, "A"), "late") });
    row("a bad stamp is reported before a defect of a later mutation",
        L { ok, stamped(insertOf("m1", "a", 0, "A"), "late"), insertOf("m2", "", 0, "B") });
    row("a defect of an earlier mutation is reported before a bad stamp",
        L { insertOf("m1", "", 0, "A"), stamped(insertOf("m2", "b", 0, "B"), "late") });
    L tooManyStamped = tooMany;
    tooManyStamped[3].hlc = s("late");
    row("too many mutations are too large whatever their stamps", tooManyStamped);
}

// A refused push is refused alike, with the same error, and leaves nothing behind.
void tst_PushRulesParity::sameRefusals()
{
    QFETCH(QList<PushMutation>, batch);
    QFETCH(bool, withBatchId);

    startBoth();
    if (QTest::currentTestFailed())
        return;
    const Answer local = push(m_backend->transport(), batch, withBatchId);
    const Answer remote = push(m_http.get(), batch, withBatchId);
    QVERIFY2(remote.lines.size() == 1 && remote.lines.constFirst().startsWith(s("refused: ")),
             qPrintable(remote.lines.join(QLatin1Char('\n'))));
    QVERIFY2(local.lines == remote.lines,
             qPrintable(diff(s("the refusals"), local.lines, remote.lines)));
    QCOMPARE(m_backend->currentVersion(), 0);
}

QTEST_GUILESS_MAIN(tst_PushRulesParity)
#include "tst_pushrulesparity.moc"
