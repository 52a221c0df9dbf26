// SPDX-License-Identifier: BSD-3-Clause
// Synq::Testing::TestBackend: the protocol rules through its transport, its controls, and a
// few runs of a real SyncEngine against it.

#include "pushmutations.h"

#include <synq/synccollection.h>
#include <synq/syncengine.h>
#include <synq/testbackend.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QPointer>
#include <QtCore/QTemporaryDir>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Synq;
using Synq::Protocol::PushMutation;
using Synq::Protocol::PushResult;
using Synq::Testing::TestBackend;
using SynqTest::mutation;

namespace {

constexpr int AnswerTimeoutMs = 5000;
constexpr int EngineTimeoutMs = 10000;

QString s(const char *text)
{
    return QString::fromUtf8(text);
}

PushMutation insertOf(const char *id, const char *tx, const char *key, std::optional<qint64> base,
                      const char *title)
{
    return mutation(id, tx, MutationType::Insert, key, base,
                    QJsonObject { { QStringLiteral("id"), s(key) },
                                  { QStringLiteral("title"), s(title) } });
}

PushMutation updateOf(const char *id, const char *tx, const char *key, std::optional<qint64> base,
                      const char *title)
{
    return mutation(id, tx, MutationType::Update, key, base,
                    QJsonObject { { QStringLiteral("title"), s(title) } });
}

PushMutation removeOf(const char *id, const char *tx, const char *key, std::optional<qint64> base)
{
    return mutation(id, tx, MutationType::Remove, key, base);
}

// m carrying the hybrid logical clock stamp hlc.
PushMutation stamped(PushMutation m, const QString &hlc)
{
    m.hlc = hlc;
    return m;
}

// Stamps as clients write them (HybridClock::format()).
const QString StampA = QStringLiteral("001764766000000:000000:device-a");
const QString StampB = QStringLiteral("001764766000000:000001:device-b");
const QString StampC = QStringLiteral("001764766000123:000000:device-a");

QVariantMap todo(const char *key, const char *title)
{
    return QVariantMap { { QStringLiteral("id"), s(key) }, { QStringLiteral("title"), s(title) } };
}

// A seed step: a record to emitUpdate, or {"delete": key} to emitDelete.
QVariantMap deletion(const char *key)
{
    return QVariantMap { { QStringLiteral("delete"), s(key) } };
}

// What a result says, in one word: applied, conflict, conflict-deleted, aborted, rejected, retry.
QString outcomeOf(const PushResult &r)
{
    switch (r.status) {
    case PushResult::Applied:
        return QStringLiteral("applied");
    case PushResult::Conflict:
        return r.deleted ? QStringLiteral("conflict-deleted") : QStringLiteral("conflict");
    case PushResult::Rejected:
        return r.error.code() == SyncError::Cancelled ? QStringLiteral("aborted")
                                                      : QStringLiteral("rejected");
    case PushResult::Retry:
        return QStringLiteral("retry");
    }
    return QString();
}

// The live records as "key:title", in the backend's order (by key).
QStringList titles(const TestBackend &backend, const QString &collection = QStringLiteral("todos"))
{
    QStringList list;
    for (const QJsonObject &o : backend.records(collection))
        list.append(o.value(QStringLiteral("id")).toString() + QLatin1Char(':')
                    + o.value(QStringLiteral("title")).toString());
    return list;
}

struct PushAnswer
{
    int calls = 0;
    Protocol::PushResponse response;
    SyncError error;
};

struct PullAnswer
{
    int calls = 0;
    Protocol::PullResponse response;
    SyncError error;
};

struct FetchAnswer
{
    int calls = 0;
    Protocol::FetchResponse response;
    SyncError error;
};

} // namespace

class tst_TestBackend : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    // The protocol through the transport
    void pushRules_data();
    void pushRules();
    void idempotentReplay_data();
    void idempotentReplay();
    void invalidPushIsRefusedWhole_data();
    void invalidPushIsRefusedWhole();
    void failNextPersist_data();
    void failNextPersist();
    void failNextPersistQueues();
    void serverAssignedKeys();
    void failNextRequest_data();
    void failNextRequest();
    void offline_data();
    void offline();
    void answersAreNeverSynchronous();
    void networkDelayDelaysAnswersNotTheServer();
    void answersAfterDestructionAreDropped();
    void pullPages_data();
    void pullPages();
    void pullWalksEverythingExactlyOnce();
    void pullErrors_data();
    void pullErrors();
    void stampsAreKeptAndHandedBack();
    void malformedStampsAreRefused_data();
    void malformedStampsAreRefused();
    void fetchAnswersFoundGoneOrMissing();
    void fetchOfAServerAssignedKey();
    void fetchErrors_data();
    void fetchErrors();
    void failNextRequestAppliesToFetch_data();
    void failNextRequestAppliesToFetch();
    void fetchWhileOffline();
    void fetchAnswersAfterDestructionAreDropped();

    // Controls
    void emitUpdateAndDelete();
    void keyFields_data();
    void keyFields();
    void invalidControlInputIsIgnored();
    void injectConflictIsSilent();
    void injectConflictWithAStamp();
    void pushedMutationList();
    void pushedMetadata();
    void resetForgetsDataKeepsSettings();

    // A real engine against the backend
    void engineInsertReachesTheBackend_data();
    void engineInsertReachesTheBackend();
    void engineShowsServerChanges_data();
    void engineShowsServerChanges();
    void engineHandlesInjectedConflict();
    void engineFailsOnNonRetryablePersist();
    void engineRetriesRetryablePersist();
    void engineCatchesUpAfterOffline();

private:
    void push(const QList<PushMutation> &mutations, PushAnswer *answer);
    void pull(const QString &collection, const QString &cursor, int limit, PullAnswer *answer);
    void fetch(const QString &collection, const QString &key, FetchAnswer *answer);
    void seed(const QVariantList &steps);
    void openEngine(SyncCollection::Strategy strategy);

    std::unique_ptr<TestBackend> m_backend;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<SyncEngine> m_engine;
    std::unique_ptr<SyncCollection> m_todos;
    std::unique_ptr<QAbstractItemModelTester> m_tester;
};

// Failures inside the helpers end the calling test too.
#define PUSH(mutations, answer)                                                                    \
    do {                                                                                           \
        push(mutations, answer);                                                                   \
        if (QTest::currentTestFailed())                                                            \
            return;                                                                                \
    } while (false)
#define FETCH(collection, key, answer)                                                             \
    do {                                                                                           \
        fetch(collection, key, answer);                                                            \
        if (QTest::currentTestFailed())                                                            \
            return;                                                                                \
    } while (false)
#define PULL(collection, cursor, limit, answer)                                                    \
    do {                                                                                           \
        pull(collection, cursor, limit, answer);                                                   \
        if (QTest::currentTestFailed())                                                            \
            return;                                                                                \
    } while (false)

void tst_TestBackend::init()
{
    m_backend = std::make_unique<TestBackend>();
}

void tst_TestBackend::cleanup()
{
    m_tester.reset();
    m_todos.reset();
    m_engine.reset();
    m_dir.reset();
    m_backend.reset();
}

// Sends one push through the transport and waits for its one answer.
void tst_TestBackend::push(const QList<PushMutation> &mutations, PushAnswer *answer)
{
    Protocol::PushRequest request;
    request.client = QStringLiteral("test-client");
    request.mutations = mutations;
    request.batch = Protocol::batchId(mutations);
    auto shared = std::make_shared<PushAnswer>();
    m_backend->transport()->push(request,
                                 [shared](const Protocol::PushResponse &response,
                                          const SyncError &error) {
                                     ++shared->calls;
                                     shared->response = response;
                                     shared->error = error;
                                 });
    QCOMPARE(shared->calls, 0); // never answered inside push()
    QTRY_COMPARE_WITH_TIMEOUT(shared->calls, 1, AnswerTimeoutMs);
    *answer = *shared;
    if (!answer->error.isError())
        QCOMPARE(answer->response.results.size(), mutations.size());
}

void tst_TestBackend::pull(const QString &collection, const QString &cursor, int limit,
                           PullAnswer *answer)
{
    Protocol::PullRequest request;
    request.collection = collection;
    request.cursor = cursor;
    request.limit = limit;
    auto shared = std::make_shared<PullAnswer>();
    m_backend->transport()->pull(request,
                                 [shared](const Protocol::PullResponse &response,
                                          const SyncError &error) {
                                     ++shared->calls;
                                     shared->response = response;
                                     shared->error = error;
                                 });
    QCOMPARE(shared->calls, 0);
    QTRY_COMPARE_WITH_TIMEOUT(shared->calls, 1, AnswerTimeoutMs);
    *answer = *shared;
}

void tst_TestBackend::fetch(const QString &collection, const QString &key, FetchAnswer *answer)
{
    auto shared = std::make_shared<FetchAnswer>();
    m_backend->transport()->fetch(Protocol::FetchRequest { collection, key },
                                  [shared](const Protocol::FetchResponse &response,
                                           const SyncError &error) {
                                      ++shared->calls;
                                      shared->response = response;
                                      shared->error = error;
                                  });
    QCOMPARE(shared->calls, 0); // never answered inside fetch()
    QTRY_COMPARE_WITH_TIMEOUT(shared->calls, 1, AnswerTimeoutMs);
    *answer = *shared;
}

void tst_TestBackend::seed(const QVariantList &steps)
{
    for (const QVariant &step : steps) {
        const QVariantMap map = step.toMap();
        if (map.contains(QStringLiteral("delete")))
            QVERIFY(m_backend->emitDelete(QStringLiteral("todos"),
                                          map.value(QStringLiteral("delete")).toString())
                    > 0);
        else
            QVERIFY(m_backend->emitUpdate(QStringLiteral("todos"), map) > 0);
    }
}

// ---------------------------------------------------------------------------------------------

void tst_TestBackend::pushRules_data()
{
    QTest::addColumn<QVariantList>("seedSteps");
    QTest::addColumn<QList<PushMutation>>("mutations");
    QTest::addColumn<QStringList>("outcomes");
    QTest::addColumn<QList<qint64>>("versions"); // per result (0: none)
    QTest::addColumn<QStringList>("recordsAfter");
    QTest::addColumn<qint64>("versionAfter");

    using L = QList<PushMutation>;
    using V = QList<qint64>;
    const QVariantList none;
    const QVariantList a1 { todo("a", "Milk") }; // a at version 1
    const QVariantList a2 { todo("a", "Milk"), todo("a", "Oat milk") }; // a at version 2
    const QVariantList aRemoved { todo("a", "Milk"), deletion("a") }; // tombstone at 2

    QTest::newRow("an insert gets the next version")
            << none << L { insertOf("m1", "t1", "a", 0, "Milk") } << QStringList { s("applied") }
            << V { 1 } << QStringList { s("a:Milk") } << qint64(1);
    QTest::newRow("versions rise across the transactions of a request")
            << a1
            << L { insertOf("m1", "t1", "b", 0, "Tea"), insertOf("m2", "t2", "c", 0, "Jam") }
            << QStringList { s("applied"), s("applied") } << V { 2, 3 }
            << QStringList { s("a:Milk"), s("b:Tea"), s("c:Jam") } << qint64(3);
    QTest::newRow("an insert on a live key conflicts with the server's record")
            << a1 << L { insertOf("m1", "t1", "a", 0, "Bread") } << QStringList { s("conflict") }
            << V { 1 } << QStringList { s("a:Milk") } << qint64(1);
    QTest::newRow("an unchecked insert overwrites a live record")
            << a1 << L { insertOf("m1", "t1", "a", std::nullopt, "Bread") }
            << QStringList { s("applied") } << V { 2 } << QStringList { s("a:Bread") }
            << qint64(2);
    QTest::newRow("an insert on a removed key writes it anew")
            << aRemoved << L { insertOf("m1", "t1", "a", 0, "Bread") }
            << QStringList { s("applied") } << V { 3 } << QStringList { s("a:Bread") }
            << qint64(3);
    QTest::newRow("an update at the current version applies")
            << a1 << L { updateOf("m1", "t1", "a", 1, "Oat milk") } << QStringList { s("applied") }
            << V { 2 } << QStringList { s("a:Oat milk") } << qint64(2);
    QTest::newRow("an update at a stale version conflicts")
            << a2 << L { updateOf("m1", "t1", "a", 1, "Soy milk") }
            << QStringList { s("conflict") } << V { 2 } << QStringList { s("a:Oat milk") }
            << qint64(2);
    QTest::newRow("an unchecked update applies at any version")
            << a2 << L { updateOf("m1", "t1", "a", std::nullopt, "Soy milk") }
            << QStringList { s("applied") } << V { 3 } << QStringList { s("a:Soy milk") }
            << qint64(3);
    QTest::newRow("an update of a never-written key conflicts as deleted at version 0")
            << none << L { updateOf("m1", "t1", "a", 0, "Milk") }
            << QStringList { s("conflict-deleted") } << V { 0 } << QStringList() << qint64(0);
    QTest::newRow("an update of a removed key conflicts even unchecked")
            << aRemoved << L { updateOf("m1", "t1", "a", std::nullopt, "Milk") }
            << QStringList { s("conflict-deleted") } << V { 2 } << QStringList() << qint64(2);
    QTest::newRow("a remove at a stale version conflicts")
            << a2 << L { removeOf("m1", "t1", "a", 1) } << QStringList { s("conflict") } << V { 2 }
            << QStringList { s("a:Oat milk") } << qint64(2);
    QTest::newRow("a remove at the current version applies")
            << a2 << L { removeOf("m1", "t1", "a", 2) } << QStringList { s("applied") } << V { 3 }
            << QStringList() << qint64(3);
    QTest::newRow("removing a key that is gone writes a new tombstone")
            << aRemoved << L { removeOf("m1", "t1", "a", 0) } << QStringList { s("applied") }
            << V { 3 } << QStringList() << qint64(3);
    QTest::newRow("in one request: an update made on an unsynced insert follows it")
            << none
            << L { insertOf("m1", "t1", "a", 0, "Milk"), updateOf("m2", "t2", "a", 0, "Oat milk") }
            << QStringList { s("applied"), s("applied") } << V { 1, 2 }
            << QStringList { s("a:Oat milk") } << qint64(2);
    QTest::newRow("in one request: three changes made on the same synced version")
            << a1
            << L { updateOf("m1", "t1", "a", 1, "Oat milk"),
                   updateOf("m2", "t2", "a", 1, "Soy milk"), removeOf("m3", "t3", "a", 1) }
            << QStringList { s("applied"), s("applied"), s("applied") } << V { 2, 3, 4 }
            << QStringList() << qint64(4);
    QTest::newRow("in one request: a change already rebased on the earlier one applies")
            << a1
            << L { updateOf("m1", "t1", "a", 1, "Oat milk"),
                   updateOf("m2", "t2", "a", 2, "Soy milk") }
            << QStringList { s("applied"), s("applied") } << V { 2, 3 }
            << QStringList { s("a:Soy milk") } << qint64(3);
    QTest::newRow("in one request: an older base is checked against what the earlier made")
            << a2
            << L { updateOf("m1", "t1", "a", 2, "Soy milk"),
                   updateOf("m2", "t2", "a", 1, "Rice milk") }
            << QStringList { s("applied"), s("applied") } << V { 3, 4 }
            << QStringList { s("a:Rice milk") } << qint64(4);
    QTest::newRow("update K on base 5, then update K on base 3")
            << QVariantList { todo("a", "v1"), todo("a", "v2"), todo("a", "v3"), todo("a", "v4"),
                              todo("a", "v5") }
            << L { updateOf("m1", "t1", "a", 5, "v6"), updateOf("m2", "t2", "a", 3, "v7") }
            << QStringList { s("applied"), s("applied") } << V { 6, 7 }
            << QStringList { s("a:v7") } << qint64(7);
    QTest::newRow("in one request: after a failed earlier change its own base counts")
            << a2
            << L { updateOf("m1", "t1", "a", 1, "Soy milk"),
                   updateOf("m2", "t2", "a", 1, "Rice milk"),
                   updateOf("m3", "t3", "a", 2, "Oat drink") }
            << QStringList { s("conflict"), s("conflict"), s("applied") } << V { 2, 2, 3 }
            << QStringList { s("a:Oat drink") } << qint64(3);
    QTest::newRow("in one request: an update follows an insert inside one transaction too")
            << none
            << L { insertOf("m1", "t1", "a", 0, "Milk"), updateOf("m2", "t1", "a", 0, "Oat milk") }
            << QStringList { s("applied"), s("applied") } << V { 1, 2 }
            << QStringList { s("a:Oat milk") } << qint64(2);
    QTest::newRow("in one request: an aborted transaction leaves nothing for the next one")
            << a1
            << L { updateOf("m1", "t1", "a", 1, "Oat milk"), insertOf("m2", "t1", "a", 0, "Dup"),
                   updateOf("m3", "t2", "a", 1, "Soy milk") }
            << QStringList { s("aborted"), s("conflict"), s("applied") } << V { 0, 1, 2 }
            << QStringList { s("a:Soy milk") } << qint64(2);
    QTest::newRow("all or nothing: a conflict aborts the rest of its transaction")
            << a2
            << L { insertOf("m1", "t1", "b", 0, "Tea"), updateOf("m2", "t1", "a", 1, "Soy milk"),
                   insertOf("m3", "t1", "c", 0, "Jam") }
            << QStringList { s("aborted"), s("conflict"), s("aborted") } << V { 0, 2, 0 }
            << QStringList { s("a:Oat milk") } << qint64(2);
    QTest::newRow("all or nothing: other transactions of the request are independent")
            << a2
            << L { insertOf("m1", "t1", "b", 0, "Tea"), updateOf("m2", "t1", "a", 1, "Soy milk"),
                   insertOf("m3", "t2", "c", 0, "Jam") }
            << QStringList { s("aborted"), s("conflict"), s("applied") } << V { 0, 2, 3 }
            << QStringList { s("a:Oat milk"), s("c:Jam") } << qint64(3);
    QTest::newRow("an update keeps the fields it does not change")
            << QVariantList { QVariantMap { { s("id"), s("a") }, { s("title"), s("Milk") },
                                            { s("done"), false } } }
            << L { mutation("m1", "t1", MutationType::Update, "a", 1,
                            QJsonObject { { s("done"), true } }) }
            << QStringList { s("applied") } << V { 2 } << QStringList { s("a:Milk") } << qint64(2);
}

void tst_TestBackend::pushRules()
{
    QFETCH(QVariantList, seedSteps);
    QFETCH(QList<PushMutation>, mutations);
    QFETCH(QStringList, outcomes);
    QFETCH(QList<qint64>, versions);
    QFETCH(QStringList, recordsAfter);
    QFETCH(qint64, versionAfter);

    seed(seedSteps);
    PushAnswer answer;
    PUSH(mutations, &answer);
    QVERIFY2(!answer.error.isError(), qPrintable(answer.error.toString()));

    QStringList gotOutcomes;
    QList<qint64> gotVersions;
    for (qsizetype i = 0; i < answer.response.results.size(); ++i) {
        const PushResult &r = answer.response.results.at(i);
        QCOMPARE(r.id, mutations.at(i).id);
        QCOMPARE(r.key, mutations.at(i).key);
        gotOutcomes.append(outcomeOf(r));
        gotVersions.append(r.version);
        switch (r.status) {
        case PushResult::Applied:
            QVERIFY(!r.error.isError());
            QVERIFY(r.version > 0);
            QVERIFY(m_backend->version(mutations.at(i).collection, r.key) >= r.version);
            break;
        case PushResult::Conflict:
            QCOMPARE(r.error.code(), SyncError::Conflict);
            QVERIFY(!r.error.isRetryable());
            QCOMPARE(r.record.has_value(), !r.deleted);
            // The server's record as it is after the failed transaction was taken back (when
            // no later mutation of the request wrote that key, it is still the current one).
            if (r.version == m_backend->version(mutations.at(i).collection, r.key)) {
                QCOMPARE(r.deleted, !m_backend->contains(mutations.at(i).collection, r.key));
                if (r.record)
                    QCOMPARE(*r.record, m_backend->record(mutations.at(i).collection, r.key));
            }
            break;
        case PushResult::Rejected:
            QCOMPARE(r.error.code(), SyncError::Cancelled);
            QVERIFY(!r.error.isRetryable()); // copied from the cause, a conflict
            break;
        case PushResult::Retry:
            break;
        }
    }
    QCOMPARE(gotOutcomes, outcomes);
    QCOMPARE(gotVersions, versions);
    QCOMPARE(titles(*m_backend), recordsAfter);
    QCOMPARE(m_backend->currentVersion(), versionAfter);
    QCOMPARE(m_backend->pushedMutations().size(), mutations.size());
}

void tst_TestBackend::idempotentReplay_data()
{
    QTest::addColumn<QList<PushMutation>>("first");
    QTest::addColumn<QVariantList>("between"); // seed steps between the two pushes
    QTest::addColumn<QList<PushMutation>>("second");
    QTest::addColumn<QStringList>("outcomes"); // of the second push
    QTest::addColumn<QList<qint64>>("versions");
    QTest::addColumn<qint64>("versionAfter");

    using L = QList<PushMutation>;
    using V = QList<qint64>;
    const L insertA { insertOf("m1", "t1", "a", 0, "Milk") };

    QTest::newRow("the same request again returns the stored result")
            << insertA << QVariantList() << insertA << QStringList { s("applied") } << V { 1 }
            << qint64(1);
    QTest::newRow("a stored result is returned even after the record moved on")
            << insertA << QVariantList { todo("a", "Bread") } << insertA
            << QStringList { s("applied") } << V { 1 } << qint64(2);
    QTest::newRow("a replayed mutation next to new ones: only the new ones are applied")
            << insertA << QVariantList()
            << L { insertOf("m1", "t1", "a", 0, "Milk"), insertOf("m2", "t2", "b", 0, "Tea") }
            << QStringList { s("applied"), s("applied") } << V { 1, 2 } << qint64(2);
    QTest::newRow("a replayed insert chains the update made on it")
            << insertA << QVariantList()
            << L { insertOf("m1", "t1", "a", 0, "Milk"), updateOf("m2", "t2", "a", 0, "Oat milk") }
            << QStringList { s("applied"), s("applied") } << V { 1, 2 } << qint64(2);
    QTest::newRow("a conflicted mutation is judged again when sent again")
            << L { updateOf("m1", "t1", "a", 1, "Oat milk") } << QVariantList { todo("a", "Milk") }
            << L { updateOf("m1", "t1", "a", 1, "Oat milk") } << QStringList { s("applied") }
            << V { 2 } << qint64(2);
    QTest::newRow("an aborted mutation is judged again when sent again")
            << L { insertOf("m1", "t1", "b", 0, "Tea"), updateOf("m2", "t1", "a", 1, "Oat") }
            << QVariantList { todo("a", "Milk") }
            << L { insertOf("m1", "t1", "b", 0, "Tea"), updateOf("m2", "t1", "a", 1, "Oat") }
            << QStringList { s("applied"), s("applied") } << V { 2, 3 } << qint64(3);
}

void tst_TestBackend::idempotentReplay()
{
    QFETCH(QList<PushMutation>, first);
    QFETCH(QVariantList, between);
    QFETCH(QList<PushMutation>, second);
    QFETCH(QStringList, outcomes);
    QFETCH(QList<qint64>, versions);
    QFETCH(qint64, versionAfter);

    PushAnswer answer;
    PUSH(first, &answer);
    seed(between);
    PUSH(second, &answer);
    QStringList gotOutcomes;
    QList<qint64> gotVersions;
    for (const PushResult &r : std::as_const(answer.response.results)) {
        gotOutcomes.append(outcomeOf(r));
        gotVersions.append(r.version);
    }
    QCOMPARE(gotOutcomes, outcomes);
    QCOMPARE(gotVersions, versions);
    QCOMPARE(m_backend->currentVersion(), versionAfter);
    // Everything the backend received counts, replays included.
    QCOMPARE(m_backend->pushedMutations().size(), first.size() + second.size());
    QCOMPARE(m_backend->pushRequestCount(), 2);
}

void tst_TestBackend::invalidPushIsRefusedWhole_data()
{
    QTest::addColumn<QList<PushMutation>>("mutations");
    QTest::addColumn<int>("httpStatus");

    using L = QList<PushMutation>;
    const PushMutation ok = insertOf("m0", "t0", "z", 0, "Fine");
    QTest::newRow("an empty request") << L() << 400;
    QTest::newRow("a mutation id twice in one request")
            << L { ok, insertOf("m1", "t1", "a", 0, "A"), insertOf("m1", "t2", "b", 0, "B") }
            << 400;
    QTest::newRow("a transaction that is not adjacent")
            << L { ok, insertOf("m1", "t1", "a", 0, "A"), insertOf("m2", "t2", "b", 0, "B"),
                   insertOf("m3", "t1", "c", 0, "C") }
            << 400;
    QTest::newRow("a collection that is not an identifier")
            << L { ok, mutation("m1", "t1", MutationType::Insert, "a", 0, QJsonObject(), "1 drop") }
            << 400;
    QTest::newRow("an empty key") << L { ok, insertOf("m1", "t1", "", 0, "A") } << 400;
    QTest::newRow("an empty mutation id") << L { ok, insertOf("", "t1", "a", 0, "A") } << 400;
    QTest::newRow("an update without changes")
            << L { ok, mutation("m1", "t1", MutationType::Update, "a", 0) } << 400;
    QTest::newRow("a negative base version") << L { ok, updateOf("m1", "t1", "a", -1, "A") } << 400;
    L tooMany;
    for (int i = 0; i <= Protocol::MaxMutationsPerPush; ++i) {
        const QByteArray id = "m" + QByteArray::number(i);
        tooMany.append(insertOf(id.constData(), id.constData(), id.constData(), 0, "x"));
    }
    QTest::newRow("more mutations than a push may carry") << tooMany << 413;
}

void tst_TestBackend::invalidPushIsRefusedWhole()
{
    QFETCH(QList<PushMutation>, mutations);
    QFETCH(int, httpStatus);

    QSignalSpy pushed(m_backend.get(), &TestBackend::pushed);
    PushAnswer answer;
    PUSH(mutations, &answer);
    QVERIFY(answer.error.isError());
    QCOMPARE(answer.error.code(), SyncError::Validation);
    QCOMPARE(answer.error.httpStatus(), httpStatus);
    QCOMPARE(answer.error.isRetryable(), httpStatus == 413); // 413: split and send again
    QVERIFY(answer.response.results.isEmpty());
    QCOMPARE(m_backend->currentVersion(), 0); // nothing applied, not even the valid one
    QVERIFY(m_backend->records(QStringLiteral("todos")).isEmpty());
    QCOMPARE(pushed.size(), 0);
}

void tst_TestBackend::failNextPersist_data()
{
    QTest::addColumn<SyncError>("error");
    QTest::addColumn<QString>("outcome");

    SyncError busy(SyncError::Storage, QStringLiteral("disk busy"));
    busy.setRetryable(true);
    SyncError invalid(SyncError::Validation, QStringLiteral("title too long"));
    invalid.setRetryable(false);
    QTest::newRow("a retryable failure answers retry") << busy << s("retry");
    QTest::newRow("a non-retryable failure answers rejected") << invalid << s("rejected");
}

void tst_TestBackend::failNextPersist()
{
    QFETCH(SyncError, error);
    QFETCH(QString, outcome);

    m_backend->failNextPersist(error);
    PushAnswer answer;
    PUSH((QList<PushMutation> { insertOf("m1", "t1", "a", 0, "Milk"),
                                updateOf("m2", "t1", "a", 0, "Oat milk"),
                                insertOf("m3", "t2", "b", 0, "Tea") }),
         &answer);
    QVERIFY(!answer.error.isError());
    const QList<PushResult> &results = answer.response.results;
    // Every mutation of the failed transaction carries the error; the rest goes on normally.
    for (int i = 0; i < 2; ++i) {
        QCOMPARE(outcomeOf(results.at(i)), outcome);
        QCOMPARE(results.at(i).error, error);
        QCOMPARE(results.at(i).version, 0);
    }
    QCOMPARE(outcomeOf(results.at(2)), s("applied"));
    QCOMPARE(results.at(2).version, 1);
    QCOMPARE(titles(*m_backend), QStringList { s("b:Tea") });

    // One failure, used up: the same transaction goes through when sent again.
    PUSH((QList<PushMutation> { insertOf("m1", "t1", "a", 0, "Milk"),
                                updateOf("m2", "t1", "a", 0, "Oat milk") }),
         &answer);
    QCOMPARE(outcomeOf(answer.response.results.at(0)), s("applied"));
    QCOMPARE(outcomeOf(answer.response.results.at(1)), s("applied"));
    QCOMPARE(titles(*m_backend), (QStringList { s("a:Oat milk"), s("b:Tea") }));
}

void tst_TestBackend::failNextPersistQueues()
{
    const SyncError error(SyncError::Validation, QStringLiteral("no"));
    m_backend->failNextPersist(error);
    m_backend->failNextPersist(error);
    // A request that never reaches the backend uses up nothing.
    m_backend->setOffline(true);
    PushAnswer answer;
    PUSH(QList<PushMutation> { insertOf("m0", "t0", "z", 0, "Z") }, &answer);
    QCOMPARE(answer.error.code(), SyncError::Network);
    m_backend->setOffline(false);

    PUSH((QList<PushMutation> { insertOf("m1", "t1", "a", 0, "A") }), &answer);
    QCOMPARE(outcomeOf(answer.response.results.at(0)), s("rejected"));
    PUSH((QList<PushMutation> { insertOf("m2", "t2", "b", 0, "B"),
                                insertOf("m3", "t3", "c", 0, "C") }),
         &answer);
    QCOMPARE(outcomeOf(answer.response.results.at(0)), s("rejected"));
    QCOMPARE(outcomeOf(answer.response.results.at(1)), s("applied"));
    QCOMPARE(titles(*m_backend), QStringList { s("c:C") });
}

void tst_TestBackend::serverAssignedKeys()
{
    QVERIFY(!m_backend->hasServerAssignedKeys(s("notes")));
    m_backend->setKeyField(s("notes"), s("uuid"));
    m_backend->setServerAssignedKeys(s("notes"));
    QVERIFY(m_backend->hasServerAssignedKeys(s("notes")));
    QVERIFY(!m_backend->hasServerAssignedKeys(s("todos")));

    PushMutation insert = insertOf("m1", "t1", "local-1", 0, "Milk");
    insert.collection = s("notes");
    PushMutation update = mutation("m2", "t1", MutationType::Update, "local-1", 0,
                                   QJsonObject { { s("title"), s("Oat milk") } });
    update.collection = s("notes");
    PushAnswer answer;
    PUSH((QList<PushMutation> { insert, update, insertOf("m3", "t3", "local-2", 0, "Tea") }),
         &answer);
    const QList<PushResult> &results = answer.response.results;
    QCOMPARE(outcomeOf(results.at(0)), s("applied"));
    QCOMPARE(results.at(0).key, s("s1"));
    QCOMPARE(results.at(1).key, s("s1")); // the update followed the insert to its new key
    QCOMPARE(results.at(2).key, s("local-2")); // todos keeps the client's keys
    QVERIFY(!m_backend->contains(s("notes"), s("local-1")));
    const QJsonObject stored = m_backend->record(s("notes"), s("s1"));
    QCOMPARE(stored.value(s("uuid")), QJsonValue(s("s1")));
    QCOMPARE(stored.value(s("title")), QJsonValue(s("Oat milk")));

    // A replay of the same mutations returns the stored results, with the assigned key.
    PUSH((QList<PushMutation> { insert }), &answer);
    QCOMPARE(answer.response.results.at(0).key, s("s1"));
    QCOMPARE(m_backend->records(s("notes")).size(), 1);

    m_backend->setServerAssignedKeys(s("notes"), false);
    QVERIFY(!m_backend->hasServerAssignedKeys(s("notes")));
    insert.id = s("m4");
    insert.tx = s("t4");
    PUSH((QList<PushMutation> { insert }), &answer);
    QCOMPARE(answer.response.results.at(0).key, s("local-1"));
}

void tst_TestBackend::failNextRequest_data()
{
    QTest::addColumn<int>("type");
    QTest::addColumn<bool>("failsPush");
    QTest::addColumn<bool>("failsPull");

    QTest::newRow("any request: the next one fails, whichever it is")
            << int(TestBackend::AnyRequest) << true << false;
    QTest::newRow("push requests: a pull before it is not touched")
            << int(TestBackend::PushRequests) << true << false;
    QTest::newRow("pull requests: a push before it is not touched")
            << int(TestBackend::PullRequests) << false << true;
}

void tst_TestBackend::failNextRequest()
{
    QFETCH(int, type);
    QFETCH(bool, failsPush);
    QFETCH(bool, failsPull);

    SyncError unavailable(SyncError::Network, QStringLiteral("busy"));
    unavailable.setHttpStatus(503).setRetryable(true).setRetryAfterMs(1000);
    m_backend->failNextRequest(unavailable, TestBackend::RequestType(type));

    QSignalSpy pushed(m_backend.get(), &TestBackend::pushed);
    QSignalSpy pulled(m_backend.get(), &TestBackend::pulled);
    PushAnswer pushAnswer;
    PullAnswer pullAnswer;
    if (type == TestBackend::PushRequests) // a pull first, which the failure must skip
        PULL(QStringLiteral("todos"), QString(), 10, &pullAnswer);
    PUSH(QList<PushMutation> { insertOf("m1", "t1", "a", 0, "Milk") }, &pushAnswer);
    if (type != TestBackend::PushRequests)
        PULL(QStringLiteral("todos"), QString(), 10, &pullAnswer);

    QCOMPARE(pushAnswer.error.isError(), failsPush);
    QCOMPARE(pullAnswer.error.isError(), failsPull);
    const SyncError &got = failsPush ? pushAnswer.error : pullAnswer.error;
    QCOMPARE(got, unavailable);
    QCOMPARE(got.retryAfterMs(), 1000);
    QCOMPARE(m_backend->contains(QStringLiteral("todos"), QStringLiteral("a")), !failsPush);
    QCOMPARE(pushed.size(), failsPush ? 0 : 1);
    QCOMPARE(pulled.size(), failsPull ? 0 : 1);
    QCOMPARE(m_backend->pushRequestCount(), 1);
    QCOMPARE(m_backend->pullRequestCount(), 1);
    // Used up: the next push goes through.
    PUSH(QList<PushMutation> { insertOf("m2", "t2", "b", 0, "Tea") }, &pushAnswer);
    QVERIFY(!pushAnswer.error.isError());
}

void tst_TestBackend::offline_data()
{
    QTest::addColumn<bool>("pushing");
    QTest::newRow("a push while offline is unreachable") << true;
    QTest::newRow("a pull while offline is unreachable") << false;
}

void tst_TestBackend::offline()
{
    QFETCH(bool, pushing);

    QSignalSpy hints(m_backend->transport(), &SyncTransport::changesAvailable);
    QSignalSpy offlineChanged(m_backend.get(), &TestBackend::offlineChanged);
    m_backend->setOffline(true);
    QVERIFY(m_backend->isOffline());
    QCOMPARE(offlineChanged.size(), 1);

    SyncError error;
    if (pushing) {
        PushAnswer answer;
        PUSH(QList<PushMutation> { insertOf("m1", "t1", "a", 0, "Milk") }, &answer);
        error = answer.error;
        QVERIFY(answer.response.results.isEmpty());
    } else {
        PullAnswer answer;
        PULL(QStringLiteral("todos"), QString(), 10, &answer);
        error = answer.error;
        QVERIFY(answer.response.changes.isEmpty());
    }
    QCOMPARE(error.code(), SyncError::Network);
    QCOMPARE(error.httpStatus(), 0);
    QVERIFY(error.isRetryable());
    QVERIFY(m_backend->pushedMutations().isEmpty());
    QCOMPARE(m_backend->currentVersion(), 0);
    QCOMPARE(m_backend->pushRequestCount() + m_backend->pullRequestCount(), 1);

    // Server-side changes go on while the client cannot hear about them.
    QCOMPARE(m_backend->emitUpdate(QStringLiteral("todos"), todo("b", "Tea")), 1);
    QCOMPARE(hints.size(), 0);

    m_backend->setOffline(false);
    QCOMPARE(offlineChanged.size(), 2);
    QCOMPARE(hints.size(), 1); // back online: "changes available"
    PullAnswer answer;
    PULL(QStringLiteral("todos"), QString(), 10, &answer);
    QVERIFY(!answer.error.isError());
    QCOMPARE(answer.response.changes.size(), 1);
}

void tst_TestBackend::answersAreNeverSynchronous()
{
    // The helpers check it for every request; here also a callback that sends the next
    // request from inside the answer, as an engine does.
    auto calls = std::make_shared<QList<int>>();
    Protocol::PullRequest request;
    request.collection = QStringLiteral("todos");
    QPointer<SyncTransport> transport = m_backend->transport();
    transport->pull(request, [calls, transport, request](const Protocol::PullResponse &,
                                                         const SyncError &) {
        calls->append(1);
        transport->pull(request, [calls](const Protocol::PullResponse &, const SyncError &) {
            calls->append(2);
        });
        calls->append(3); // the nested answer must not have run yet
    });
    QVERIFY(calls->isEmpty());
    QTRY_COMPARE_WITH_TIMEOUT(*calls, (QList<int> { 1, 3, 2 }), AnswerTimeoutMs);
}

void tst_TestBackend::networkDelayDelaysAnswersNotTheServer()
{
    constexpr int DelayMs = 200;
    QSignalSpy delayChanged(m_backend.get(), &TestBackend::networkDelayChanged);
    m_backend->setNetworkDelay(DelayMs);
    QCOMPARE(m_backend->networkDelay(), DelayMs);
    QCOMPARE(delayChanged.size(), 1);

    auto answered = std::make_shared<bool>(false);
    Protocol::PushRequest request;
    request.mutations = { insertOf("m1", "t1", "a", 0, "Milk") };
    request.batch = Protocol::batchId(request.mutations);
    QElapsedTimer timer;
    timer.start();
    m_backend->transport()->push(
            request,
            [answered](const Protocol::PushResponse &, const SyncError &) { *answered = true; });
    // The server applied it at once; only the answer travels slowly.
    QVERIFY(m_backend->contains(QStringLiteral("todos"), QStringLiteral("a")));
    QTRY_VERIFY_WITH_TIMEOUT(*answered, AnswerTimeoutMs);
    QVERIFY2(timer.elapsed() >= DelayMs - 5, qPrintable(QString::number(timer.elapsed())));

    // Error answers are delayed as well.
    m_backend->setOffline(true);
    PullAnswer pullAnswer;
    timer.restart();
    PULL(QStringLiteral("todos"), QString(), 10, &pullAnswer);
    QCOMPARE(pullAnswer.error.code(), SyncError::Network);
    QVERIFY2(timer.elapsed() >= DelayMs - 5, qPrintable(QString::number(timer.elapsed())));
}

void tst_TestBackend::answersAfterDestructionAreDropped()
{
    m_backend->setNetworkDelay(20);
    auto calls = std::make_shared<int>(0);
    Protocol::PushRequest push;
    push.mutations = { insertOf("m1", "t1", "a", 0, "Milk") };
    push.batch = Protocol::batchId(push.mutations);
    Protocol::PullRequest pull;
    pull.collection = QStringLiteral("todos");
    QPointer<SyncTransport> transport = m_backend->transport();
    transport->push(push, [calls](const Protocol::PushResponse &, const SyncError &) { ++*calls; });
    transport->pull(pull, [calls](const Protocol::PullResponse &, const SyncError &) { ++*calls; });
    m_backend.reset();
    QVERIFY(transport.isNull()); // the transport goes with its backend

    // A control backend with the same delay answers meanwhile: the dropped answers had time.
    TestBackend control;
    control.setNetworkDelay(40);
    auto controlCalls = std::make_shared<int>(0);
    control.transport()->pull(pull, [controlCalls](const Protocol::PullResponse &,
                                                   const SyncError &) { ++*controlCalls; });
    QTRY_COMPARE_WITH_TIMEOUT(*controlCalls, 1, AnswerTimeoutMs);
    QCOMPARE(*calls, 0);
}

void tst_TestBackend::pullPages_data()
{
    // The server: c@3, b deleted @4, a@5 (a written at 1, b at 2, c at 3), and x@6 elsewhere.
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QString>("cursor");
    QTest::addColumn<int>("limit");
    QTest::addColumn<QStringList>("changes"); // "key@version", "-key@version" for a deletion
    QTest::addColumn<QString>("nextCursor");
    QTest::addColumn<bool>("hasMore");

    const QString todos = QStringLiteral("todos");
    QTest::newRow("from the beginning only live records are listed, in version order")
            << todos << QString() << 10 << QStringList { s("c@3"), s("a@5") } << s("6") << false;
    QTest::newRow("a first page of a listing from the beginning")
            << todos << QString() << 1 << QStringList { s("c@3") } << s("3") << true;
    QTest::newRow("after a cursor deletions are listed too")
            << todos << s("3") << 10 << QStringList { s("-b@4"), s("a@5") } << s("6") << false;
    QTest::newRow("a page cut by the limit ends at its last change")
            << todos << s("2") << 2 << QStringList { s("c@3"), s("-b@4") } << s("4") << true;
    QTest::newRow("a page that takes the rest ends at the current version")
            << todos << s("4") << 1 << QStringList { s("a@5") } << s("6") << false;
    QTest::newRow("nothing new: an empty page, the cursor at the current version")
            << todos << s("6") << 10 << QStringList() << s("6") << false;
    QTest::newRow("a collection nobody wrote")
            << s("notes") << QString() << 10 << QStringList() << s("6") << false;
    QTest::newRow("another collection's changes are not listed")
            << s("projects") << QString() << 10 << QStringList { s("x@6") } << s("6") << false;
}

void tst_TestBackend::pullPages()
{
    QFETCH(QString, collection);
    QFETCH(QString, cursor);
    QFETCH(int, limit);
    QFETCH(QStringList, changes);
    QFETCH(QString, nextCursor);
    QFETCH(bool, hasMore);

    seed({ todo("a", "Milk"), todo("b", "Tea"), todo("c", "Jam"), deletion("b"),
           todo("a", "Oat milk") });
    QVERIFY(m_backend->emitUpdate(QStringLiteral("projects"), todo("x", "Home")) > 0);

    QSignalSpy pulled(m_backend.get(), &TestBackend::pulled);
    PullAnswer answer;
    PULL(collection, cursor, limit, &answer);
    QVERIFY2(!answer.error.isError(), qPrintable(answer.error.toString()));
    QStringList got;
    for (const Protocol::Change &c : std::as_const(answer.response.changes)) {
        QCOMPARE(c.collection, collection);
        got.append((c.deleted ? QStringLiteral("-") : QString()) + c.key + QLatin1Char('@')
                   + QString::number(c.version));
        if (c.deleted)
            QVERIFY(c.data.isEmpty());
        else
            QCOMPARE(c.data, m_backend->record(collection, c.key));
    }
    QCOMPARE(got, changes);
    QCOMPARE(answer.response.cursor, nextCursor);
    QCOMPARE(answer.response.hasMore, hasMore);
    QCOMPARE(pulled.size(), 1);
    QCOMPARE(pulled.constFirst().constFirst().toString(), collection);
}

void tst_TestBackend::pullWalksEverythingExactlyOnce()
{
    // 25 records, every third removed, every fifth updated; then a client pages through the
    // listing and the change feed with a small limit, and changes happen between its pages.
    for (int i = 0; i < 25; ++i) {
        const QByteArray key = "k" + QByteArray::number(i);
        QVERIFY(m_backend->emitUpdate(QStringLiteral("todos"), todo(key.constData(), "v1")) > 0);
    }
    for (int i = 0; i < 25; i += 3)
        QVERIFY(m_backend->emitDelete(QStringLiteral("todos"), QStringLiteral("k%1").arg(i)) > 0);
    for (int i = 1; i < 25; i += 5)
        QVERIFY(m_backend->emitUpdate(QStringLiteral("todos"),
                                      todo(qPrintable(QStringLiteral("k%1").arg(i)), "v2"))
                > 0);

    QMap<QString, QString> client; // key -> title, as a client applying the pages holds it
    QString cursor;
    bool more = true;
    int pages = 0;
    for (; more && pages < 50; ++pages) {
        PullAnswer answer;
        PULL(QStringLiteral("todos"), cursor, 4, &answer);
        QVERIFY(!answer.error.isError());
        QVERIFY(answer.response.changes.size() <= 4);
        for (const Protocol::Change &c : std::as_const(answer.response.changes)) {
            if (c.deleted)
                client.remove(c.key);
            else
                client.insert(c.key, c.data.value(QStringLiteral("title")).toString());
        }
        QVERIFY(answer.response.cursor.toLongLong() >= cursor.toLongLong()); // only forward
        cursor = answer.response.cursor;
        more = answer.response.hasMore;
        if (pages == 1) { // a change to a listed and to an unlisted record mid-way
            QVERIFY(m_backend->emitUpdate(QStringLiteral("todos"), todo("k2", "v3")) > 0);
            QVERIFY(m_backend->emitDelete(QStringLiteral("todos"), QStringLiteral("k23")) > 0);
        }
    }
    QVERIFY(!more);
    QCOMPARE(cursor, QString::number(m_backend->currentVersion()));

    QMap<QString, QString> server;
    for (const QJsonObject &o : m_backend->records(QStringLiteral("todos")))
        server.insert(o.value(QStringLiteral("id")).toString(),
                      o.value(QStringLiteral("title")).toString());
    QCOMPARE(client, server);
    QCOMPARE(server.value(QStringLiteral("k2")), s("v3"));
    QVERIFY(!server.contains(QStringLiteral("k23")));
    QVERIFY(!server.contains(QStringLiteral("k3")));
}

void tst_TestBackend::pullErrors_data()
{
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QString>("cursor");
    QTest::addColumn<int>("limit");
    QTest::addColumn<int>("httpStatus");
    QTest::addColumn<int>("code");

    QTest::newRow("a malformed cursor is a validation error")
            << s("todos") << s("v1:2") << 10 << 400 << int(SyncError::Validation);
    QTest::newRow("a cursor ahead of the server asks for a resync")
            << s("todos") << s("99") << 10 << 410 << int(SyncError::Protocol);
    QTest::newRow("a limit of 0 is a validation error")
            << s("todos") << QString() << 0 << 400 << int(SyncError::Validation);
    QTest::newRow("a limit over 1000 is a validation error")
            << s("todos") << QString() << 1001 << 400 << int(SyncError::Validation);
    QTest::newRow("a collection that is not an identifier is a validation error")
            << s("todos; drop") << QString() << 10 << 400 << int(SyncError::Validation);
}

void tst_TestBackend::pullErrors()
{
    QFETCH(QString, collection);
    QFETCH(QString, cursor);
    QFETCH(int, limit);
    QFETCH(int, httpStatus);
    QFETCH(int, code);

    seed({ todo("a", "Milk") });
    QSignalSpy pulled(m_backend.get(), &TestBackend::pulled);
    PullAnswer answer;
    PULL(collection, cursor, limit, &answer);
    QCOMPARE(answer.error.httpStatus(), httpStatus);
    QCOMPARE(int(answer.error.code()), code);
    QVERIFY(!answer.error.isRetryable());
    QVERIFY(answer.response.changes.isEmpty());
    QCOMPARE(pulled.size(), 0);
}

// The stamp of each applied write stays with the record or tombstone it made: applied results
// give it back, conflicts carry the stamp of the server's state, changes the stamp of each
// version, replays their stored one.
void tst_TestBackend::stampsAreKeptAndHandedBack()
{
    PushAnswer answer;
    const PushMutation insert = stamped(insertOf("m1", "t1", "a", 0, "Milk"), StampA);
    PUSH(QList<PushMutation> { insert }, &answer);
    QCOMPARE(outcomeOf(answer.response.results.constFirst()), s("applied"));
    QCOMPARE(answer.response.results.constFirst().hlc, StampA);

    PUSH(QList<PushMutation> { stamped(updateOf("m2", "t2", "a", 0, "Oat"), StampB) }, &answer);
    QCOMPARE(outcomeOf(answer.response.results.constFirst()), s("conflict"));
    QCOMPARE(answer.response.results.constFirst().hlc, StampA);

    PUSH((QList<PushMutation> { stamped(removeOf("m3", "t3", "a", 1), StampC),
                                stamped(updateOf("m4", "t4", "a", 2, "Jam"), StampB),
                                updateOf("m5", "t5", "b", 0, "Tea") }),
         &answer);
    QCOMPARE(outcomeOf(answer.response.results.at(0)), s("applied"));
    QCOMPARE(answer.response.results.at(0).hlc, StampC);
    QCOMPARE(outcomeOf(answer.response.results.at(1)), s("conflict-deleted"));
    QCOMPARE(answer.response.results.at(1).version, 2);
    QCOMPARE(answer.response.results.at(1).hlc, StampC);
    QCOMPARE(outcomeOf(answer.response.results.at(2)), s("conflict-deleted"));
    QCOMPARE(answer.response.results.at(2).hlc, QString()); // never written: no stamp

    // A replay: the stored result with its stamp, whatever the mutation carries now.
    PUSH(QList<PushMutation> { stamped(insert, StampB) }, &answer);
    QCOMPARE(answer.response.results.constFirst().version, 1);
    QCOMPARE(answer.response.results.constFirst().hlc, StampA);

    // A write without a stamp leaves none: the feed shows b without, the tombstone with C.
    PUSH(QList<PushMutation> { insertOf("m6", "t6", "b", 0, "Tea") }, &answer);
    QCOMPARE(answer.response.results.constFirst().hlc, QString());
    PullAnswer feed;
    PULL(s("todos"), s("1"), 10, &feed);
    QCOMPARE(feed.response.changes.size(), 2);
    QCOMPARE(feed.response.changes.at(0).key, s("a"));
    QVERIFY(feed.response.changes.at(0).deleted);
    QCOMPARE(feed.response.changes.at(0).hlc, StampC);
    QCOMPARE(feed.response.changes.at(1).key, s("b"));
    QCOMPARE(feed.response.changes.at(1).hlc, QString());

    const QVariantList pushed = m_backend->pushedMutationList();
    QCOMPARE(pushed.constFirst().toMap().value(s("hlc")).toString(), StampA);
    QCOMPARE(pushed.constLast().toMap().value(s("hlc")).toString(), QString());
}

void tst_TestBackend::malformedStampsAreRefused_data()
{
    QTest::addColumn<QString>("hlc");
    QTest::addColumn<QString>("message");

    QTest::newRow("a date") << s("2025-12-03T12:46:40Z")
                            << s("mutations[1].hlc: not a hybrid logical clock stamp");
    QTest::newRow("a stamp without a node")
            << s("001764766000000:000003") << s("mutations[1].hlc: not a hybrid logical clock");
    QTest::newRow("a stamp with a NUL in its node")
            << s("001764766000000:000003:a") + QChar(0) << s("mutations[1].hlc: contains NUL");
    QTest::newRow("a node of 129 characters")
            << s("001764766000000:000003:") + QString(129, QLatin1Char('n'))
            << s("mutations[1].hlc: must be at most 151 characters");
}

// As synq-server refuses them: the whole push, 400, nothing applied.
void tst_TestBackend::malformedStampsAreRefused()
{
    QFETCH(QString, hlc);
    QFETCH(QString, message);

    PushAnswer answer;
    PUSH((QList<PushMutation> { insertOf("m0", "t0", "z", 0, "Fine"),
                                stamped(insertOf("m1", "t1", "a", 0, "Milk"), hlc) }),
         &answer);
    QCOMPARE(answer.error.code(), SyncError::Validation);
    QCOMPARE(answer.error.httpStatus(), 400);
    QVERIFY2(answer.error.message().contains(message), qPrintable(answer.error.toString()));
    QVERIFY(answer.response.results.isEmpty());
    QCOMPARE(m_backend->currentVersion(), 0);
}

// ---------------------------------------------------------------------------------------------

// As synq-server answers GET /v1/record: found with the record, version and stamp; gone with
// the tombstone's; missing for a key never written. A fetch changes nothing.
void tst_TestBackend::fetchAnswersFoundGoneOrMissing()
{
    using Status = Protocol::FetchResponse::Status;
    PushAnswer pushAnswer;
    PUSH((QList<PushMutation> { stamped(insertOf("m1", "t1", "a", 0, "Milk"), StampA),
                                stamped(removeOf("m2", "t2", "a", 1), StampB),
                                insertOf("m3", "t3", "b", 0, "Tea") }),
         &pushAnswer);
    QCOMPARE(m_backend->injectConflict(s("todos"), s("c"), todo("c", "Eggs"), StampC), 4);
    QCOMPARE(m_backend->emitUpdate(s("todos"), todo("d", "Jam")), 5);
    QSignalSpy pushed(m_backend.get(), &TestBackend::pushed);
    QSignalSpy pulled(m_backend.get(), &TestBackend::pulled);

    FetchAnswer answer;
    FETCH(s("todos"), s("a"), &answer);
    QCOMPARE(answer.error, SyncError());
    QCOMPARE(answer.response.status, Status::Gone);
    QCOMPARE(answer.response.key, s("a"));
    QCOMPARE(answer.response.version, 2);
    QVERIFY(answer.response.data.isEmpty());
    QCOMPARE(answer.response.hlc, StampB);

    FETCH(s("todos"), s("b"), &answer);
    QCOMPARE(answer.response.status, Status::Found);
    QCOMPARE(answer.response.version, 3);
    QCOMPARE(answer.response.data, (QJsonObject { { s("id"), s("b") }, { s("title"), s("Tea") } }));
    QVERIFY(answer.response.hlc.isEmpty());

    FETCH(s("todos"), s("c"), &answer);
    QCOMPARE(answer.response.status, Status::Found);
    QCOMPARE(answer.response.version, 4);
    QCOMPARE(answer.response.hlc, StampC);

    FETCH(s("todos"), s("d"), &answer);
    QCOMPARE(answer.response.status, Status::Found);
    QCOMPARE(answer.response.data.value(s("title")), QJsonValue(s("Jam")));

    for (const auto &[collection, key] :
         { std::pair { s("todos"), s("never") }, std::pair { s("projects"), s("b") } }) {
        FETCH(collection, key, &answer);
        QCOMPARE(answer.error, SyncError());
        QCOMPARE(answer.response.status, Status::Missing);
        QCOMPARE(answer.response.key, key);
        QCOMPARE(answer.response.version, 0);
        QVERIFY(answer.response.hlc.isEmpty());
    }

    QCOMPARE(m_backend->fetchRequestCount(), 6);
    QCOMPARE(m_backend->pushRequestCount(), 1);
    QCOMPARE(m_backend->pullRequestCount(), 0);
    QCOMPARE(m_backend->currentVersion(), 5); // nothing written
    QCOMPARE(pushed.size(), 0);
    QCOMPARE(pulled.size(), 0);

    // reset() forgets the count and the data: everything is missing again.
    m_backend->reset();
    QCOMPARE(m_backend->fetchRequestCount(), 0);
    FETCH(s("todos"), s("b"), &answer);
    QCOMPARE(answer.response.status, Status::Missing);
    QCOMPARE(m_backend->fetchRequestCount(), 1);
}

void tst_TestBackend::fetchOfAServerAssignedKey()
{
    m_backend->setServerAssignedKeys(s("todos"));
    PushAnswer pushAnswer;
    PUSH(QList<PushMutation> { insertOf("m1", "t1", "local-1", 0, "Milk") }, &pushAnswer);
    const QString key = pushAnswer.response.results.constFirst().key;
    QCOMPARE(key, s("s1"));

    FetchAnswer answer;
    FETCH(s("todos"), key, &answer);
    QCOMPARE(answer.response.status, Protocol::FetchResponse::Found);
    QCOMPARE(answer.response.data.value(s("id")), QJsonValue(key));
    FETCH(s("todos"), s("local-1"), &answer);
    QCOMPARE(answer.response.status, Protocol::FetchResponse::Missing);
}

void tst_TestBackend::fetchErrors_data()
{
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("message"); // as synq-server words it

    const QString notAnIdentifier =
            s("collection: not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters, "
              "not starting with sqlite_)");
    QTest::newRow("a collection that is not an identifier")
            << s("todos; drop") << s("a") << notAnIdentifier;
    QTest::newRow("an empty collection") << QString() << s("a") << notAnIdentifier;
    QTest::newRow("an empty key")
            << s("todos") << QString() << s("key: must be 1 to 512 characters");
    QTest::newRow("a key of 513 characters")
            << s("todos") << QString(513, u'k') << s("key: must be 1 to 512 characters");
    QTest::newRow("a key with a NUL")
            << s("todos") << QString(s("a") + QChar(0)) << s("key: contains NUL or invalid UTF-16");
}

void tst_TestBackend::fetchErrors()
{
    QFETCH(QString, collection);
    QFETCH(QString, key);
    QFETCH(QString, message);

    seed({ todo("a", "Milk") });
    FetchAnswer answer;
    FETCH(collection, key, &answer);
    QCOMPARE(answer.error.code(), SyncError::Validation);
    QCOMPARE(answer.error.httpStatus(), 400);
    QVERIFY(!answer.error.isRetryable());
    QCOMPARE(answer.error.message(), message);
    QCOMPARE(answer.response.status, Protocol::FetchResponse::Missing);
    QVERIFY(answer.response.key.isEmpty());
    QCOMPARE(m_backend->fetchRequestCount(), 1);
}

void tst_TestBackend::failNextRequestAppliesToFetch_data()
{
    QTest::addColumn<int>("type");
    QTest::addColumn<bool>("failsFetch");

    QTest::newRow("any request: a fetch is the next request") << int(TestBackend::AnyRequest)
                                                               << true;
    QTest::newRow("fetch requests: a push and a pull before it are not touched")
            << int(TestBackend::FetchRequests) << true;
    QTest::newRow("push requests: a fetch is not touched") << int(TestBackend::PushRequests)
                                                           << false;
    QTest::newRow("pull requests: a fetch is not touched") << int(TestBackend::PullRequests)
                                                           << false;
}

void tst_TestBackend::failNextRequestAppliesToFetch()
{
    QFETCH(int, type);
    QFETCH(bool, failsFetch);

    seed({ todo("a", "Milk") });
    SyncError unavailable(SyncError::Network, QStringLiteral("busy"));
    unavailable.setHttpStatus(503).setRetryable(true).setRetryAfterMs(1000);
    m_backend->failNextRequest(unavailable, TestBackend::RequestType(type));

    PushAnswer pushAnswer;
    PullAnswer pullAnswer;
    if (type == TestBackend::FetchRequests) {
        PUSH(QList<PushMutation> { insertOf("m1", "t1", "b", 0, "Tea") }, &pushAnswer);
        PULL(QStringLiteral("todos"), QString(), 10, &pullAnswer);
        QVERIFY(!pushAnswer.error.isError());
        QVERIFY(!pullAnswer.error.isError());
    }
    FetchAnswer answer;
    FETCH(s("todos"), s("a"), &answer);
    QCOMPARE(answer.error.isError(), failsFetch);
    if (failsFetch) {
        QCOMPARE(answer.error, unavailable);
        QCOMPARE(answer.error.retryAfterMs(), 1000);
        QCOMPARE(answer.response.status, Protocol::FetchResponse::Missing);
    } else {
        QCOMPARE(answer.response.status, Protocol::FetchResponse::Found);
    }
    QCOMPARE(m_backend->fetchRequestCount(), 1);
    // Used up (or still waiting for its own kind): the next fetch goes through.
    FETCH(s("todos"), s("a"), &answer);
    QVERIFY(!answer.error.isError());
    QCOMPARE(answer.response.status, Protocol::FetchResponse::Found);
}

void tst_TestBackend::fetchWhileOffline()
{
    seed({ todo("a", "Milk") });
    m_backend->setOffline(true);
    FetchAnswer answer;
    FETCH(s("todos"), s("a"), &answer);
    QCOMPARE(answer.error.code(), SyncError::Network);
    QCOMPARE(answer.error.httpStatus(), 0);
    QVERIFY(answer.error.isRetryable());
    QCOMPARE(answer.response.status, Protocol::FetchResponse::Missing);
    QVERIFY(answer.response.data.isEmpty());
    QCOMPARE(m_backend->fetchRequestCount(), 1);

    m_backend->setOffline(false);
    FETCH(s("todos"), s("a"), &answer);
    QCOMPARE(answer.response.status, Protocol::FetchResponse::Found);
}

void tst_TestBackend::fetchAnswersAfterDestructionAreDropped()
{
    m_backend->setNetworkDelay(20);
    auto calls = std::make_shared<int>(0);
    QPointer<SyncTransport> transport = m_backend->transport();
    transport->fetch(Protocol::FetchRequest { s("todos"), s("a") },
                     [calls](const Protocol::FetchResponse &, const SyncError &) { ++*calls; });
    m_backend.reset();
    QVERIFY(transport.isNull());

    TestBackend control;
    control.setNetworkDelay(40);
    auto controlCalls = std::make_shared<int>(0);
    control.transport()->fetch(Protocol::FetchRequest { s("todos"), s("a") },
                               [controlCalls](const Protocol::FetchResponse &,
                                              const SyncError &) { ++*controlCalls; });
    QTRY_COMPARE_WITH_TIMEOUT(*controlCalls, 1, AnswerTimeoutMs);
    QCOMPARE(*calls, 0);
}

void tst_TestBackend::emitUpdateAndDelete()
{
    QSignalSpy hints(m_backend->transport(), &SyncTransport::changesAvailable);
    QCOMPARE(m_backend->emitUpdate(QStringLiteral("todos"), todo("b", "Tea")), 1);
    QCOMPARE(m_backend->emitUpdate(QStringLiteral("todos"), todo("a", "Milk")), 2);
    QCOMPARE(hints.size(), 2);
    // An upsert replaces the whole record.
    QCOMPARE(m_backend->emitUpdate(QStringLiteral("todos"),
                                   QVariantMap { { s("id"), s("b") }, { s("done"), true } }),
             3);
    QCOMPARE(m_backend->record(QStringLiteral("todos"), QStringLiteral("b")),
             (QJsonObject { { s("id"), s("b") }, { s("done"), true } }));
    QCOMPARE(m_backend->records(QStringLiteral("todos")).size(), 2);
    QCOMPARE(m_backend->records(QStringLiteral("todos")).constFirst().value(s("id")), s("a"));

    QCOMPARE(m_backend->emitDelete(QStringLiteral("todos"), QStringLiteral("a")), 4);
    QCOMPARE(hints.size(), 4);
    QVERIFY(!m_backend->contains(QStringLiteral("todos"), QStringLiteral("a")));
    QVERIFY(m_backend->record(QStringLiteral("todos"), QStringLiteral("a")).isEmpty());
    QCOMPARE(m_backend->version(QStringLiteral("todos"), QStringLiteral("a")), 4); // tombstone
    QCOMPARE(m_backend->version(QStringLiteral("todos"), QStringLiteral("never")), 0);
    QCOMPARE(titles(*m_backend), QStringList { s("b:") });
    QCOMPARE(m_backend->currentVersion(), 4);
}

void tst_TestBackend::keyFields_data()
{
    QTest::addColumn<QString>("keyField");
    QTest::addColumn<QVariantMap>("record");
    QTest::addColumn<QString>("key");

    QTest::newRow("the key is the id field by default")
            << QString() << QVariantMap { { s("id"), s("k1") }, { s("uuid"), s("u1") } } << s("k1");
    QTest::newRow("a collection may name another key field")
            << s("uuid") << QVariantMap { { s("id"), s("k1") }, { s("uuid"), s("u1") } } << s("u1");
    QTest::newRow("an integer key is its decimal string")
            << QString() << QVariantMap { { s("id"), 42 } } << s("42");
}

void tst_TestBackend::keyFields()
{
    QFETCH(QString, keyField);
    QFETCH(QVariantMap, record);
    QFETCH(QString, key);

    if (!keyField.isEmpty())
        m_backend->setKeyField(QStringLiteral("todos"), keyField);
    QCOMPARE(m_backend->keyField(QStringLiteral("todos")),
             keyField.isEmpty() ? s("id") : keyField);
    QCOMPARE(m_backend->keyField(QStringLiteral("other")), s("id"));
    QCOMPARE(m_backend->emitUpdate(QStringLiteral("todos"), record), 1);
    QVERIFY(m_backend->contains(QStringLiteral("todos"), key));
    QCOMPARE(m_backend->record(QStringLiteral("todos"), key), QJsonObject::fromVariantMap(record));
}

void tst_TestBackend::invalidControlInputIsIgnored()
{
    QSignalSpy hints(m_backend->transport(), &SyncTransport::changesAvailable);
    // No key, an empty key, a key that is neither a string nor an integer, a bad collection.
    QCOMPARE(m_backend->emitUpdate(QStringLiteral("todos"), QVariantMap { { s("title"), s("x") } }),
             0);
    QCOMPARE(m_backend->emitUpdate(QStringLiteral("todos"), QVariantMap { { s("id"), QString() } }),
             0);
    QCOMPARE(m_backend->emitUpdate(QStringLiteral("todos"),
                                   QVariantMap { { s("id"), QVariantMap { { s("a"), 1 } } } }),
             0);
    QCOMPARE(m_backend->emitUpdate(QStringLiteral("todos"), QVariantMap { { s("id"), 1.5 } }), 0);
    QCOMPARE(m_backend->emitUpdate(QStringLiteral("not a name"), todo("a", "x")), 0);
    QCOMPARE(m_backend->emitUpdate(QString(), todo("a", "x")), 0);
    QCOMPARE(m_backend->emitDelete(QStringLiteral("todos"), QString()), 0);
    QCOMPARE(m_backend->injectConflict(QStringLiteral("todos"), QString(), todo("a", "x")), 0);
    QCOMPARE(m_backend->injectConflict(QStringLiteral("1x"), QStringLiteral("a"), todo("a", "x")),
             0);
    m_backend->setKeyField(QStringLiteral("todos"), QString()); // ignored: stays "id"
    QCOMPARE(m_backend->keyField(QStringLiteral("todos")), s("id"));
    m_backend->failNextPersist(SyncError()); // "no error" is no failure
    m_backend->failNextRequest(SyncError());

    QCOMPARE(hints.size(), 0);
    QCOMPARE(m_backend->currentVersion(), 0);
    PushAnswer answer;
    PUSH(QList<PushMutation> { insertOf("m1", "t1", "a", 0, "Milk") }, &answer);
    QVERIFY(!answer.error.isError());
    QCOMPARE(outcomeOf(answer.response.results.constFirst()), s("applied"));
}

void tst_TestBackend::injectConflictIsSilent()
{
    PushAnswer answer;
    PUSH(QList<PushMutation> { insertOf("m1", "t1", "a", 0, "Milk") }, &answer);
    QSignalSpy hints(m_backend->transport(), &SyncTransport::changesAvailable);
    const QVariantMap server { { s("id"), s("a") }, { s("title"), s("Milk (2 l)") } };
    QCOMPARE(m_backend->injectConflict(QStringLiteral("todos"), QStringLiteral("a"), server), 2);
    QCOMPARE(hints.size(), 0);

    PUSH(QList<PushMutation> { updateOf("m2", "t2", "a", 1, "Oat milk") }, &answer);
    const PushResult &r = answer.response.results.constFirst();
    QCOMPARE(outcomeOf(r), s("conflict"));
    QCOMPARE(r.version, 2);
    QCOMPARE(r.record, std::optional<QJsonObject>(QJsonObject::fromVariantMap(server)));
}

void tst_TestBackend::injectConflictWithAStamp()
{
    PushAnswer answer;
    PUSH(QList<PushMutation> { stamped(insertOf("m1", "t1", "a", 0, "Milk"), StampA) }, &answer);
    const QVariantMap server { { s("id"), s("a") }, { s("title"), s("Milk (2 l)") } };
    QCOMPARE(m_backend->injectConflict(s("todos"), s("a"), server, StampC), 2);

    PUSH(QList<PushMutation> { stamped(updateOf("m2", "t2", "a", 1, "Oat"), StampB) }, &answer);
    const PushResult &r = answer.response.results.constFirst();
    QCOMPARE(outcomeOf(r), s("conflict"));
    QCOMPARE(r.version, 2);
    QCOMPARE(r.record, std::optional<QJsonObject>(QJsonObject::fromVariantMap(server)));
    QCOMPARE(r.hlc, StampC);
    PullAnswer feed;
    PULL(s("todos"), QString(), 10, &feed);
    QCOMPARE(feed.response.changes.size(), 1);
    QCOMPARE(feed.response.changes.constFirst().hlc, StampC);

    // Without a stamp (and with an empty one) the server's record has none.
    QCOMPARE(m_backend->injectConflict(s("todos"), s("a"), server), 3);
    PUSH(QList<PushMutation> { stamped(updateOf("m3", "t3", "a", 1, "Oat"), StampB) }, &answer);
    QCOMPARE(outcomeOf(answer.response.results.constFirst()), s("conflict"));
    QCOMPARE(answer.response.results.constFirst().hlc, QString());
    QCOMPARE(m_backend->injectConflict(s("todos"), s("a"), server, QString()), 4);
    PULL(s("todos"), s("3"), 10, &feed);
    QCOMPARE(feed.response.changes.constFirst().hlc, QString());

    // A malformed stamp writes nothing.
    QCOMPARE(m_backend->injectConflict(s("todos"), s("a"), server, s("yesterday")), 0);
    QCOMPARE(m_backend->injectConflict(s("todos"), s("b"), server, s("001764766000000:000003")),
             0);
    QCOMPARE(m_backend->currentVersion(), 4);
    QVERIFY(!m_backend->contains(s("todos"), s("b")));
}

void tst_TestBackend::pushedMutationList()
{
    PushAnswer answer;
    PUSH((QList<PushMutation> { insertOf("m1", "t1", "a", 0, "Milk"),
                                updateOf("m2", "t2", "a", std::nullopt, "Oat"),
                                removeOf("m3", "t3", "a", 2) }),
         &answer);
    const QList<PushMutation> pushed = m_backend->pushedMutations();
    QCOMPARE(pushed.size(), 3);
    QCOMPARE(pushed.at(1).id, s("m2"));
    QCOMPARE(pushed.at(1).op, MutationType::Update);
    QVERIFY(!pushed.at(1).baseVersion.has_value());

    const QVariantList list = m_backend->pushedMutationList();
    QCOMPARE(list.size(), 3);
    const QVariantMap first = list.at(0).toMap();
    QCOMPARE(first.value(s("id")).toString(), s("m1"));
    QCOMPARE(first.value(s("tx")).toString(), s("t1"));
    QCOMPARE(first.value(s("collection")).toString(), s("todos"));
    QCOMPARE(first.value(s("op")).toString(), s("insert"));
    QCOMPARE(first.value(s("key")).toString(), s("a"));
    QCOMPARE(first.value(s("baseVersion")).toLongLong(), 0);
    QCOMPARE(first.value(s("data")).toMap().value(s("title")).toString(), s("Milk"));
    QVERIFY(list.at(1).toMap().value(s("baseVersion")).isNull());
    QCOMPARE(list.at(2).toMap().value(s("op")).toString(), s("remove"));
    QCOMPARE(list.at(2).toMap().value(s("baseVersion")).toLongLong(), 2);
    // Without metadata: an invalid QVariant (undefined in QML).
    for (const QVariant &entry : list) {
        QVERIFY(entry.toMap().contains(s("metadata")));
        QVERIFY(!entry.toMap().value(s("metadata")).isValid());
    }
}

// What the caller attached to a mutation is received and listed, any JSON value; null is
// none, as it is left out of the request on the wire.
void tst_TestBackend::pushedMetadata()
{
    auto with = [](PushMutation m, const QJsonValue &metadata) {
        m.metadata = metadata;
        return m;
    };
    const QJsonObject why { { s("reason"), s("bulk edit") }, { s("count"), 3 } };
    PushAnswer answer;
    PUSH((QList<PushMutation> { with(insertOf("m1", "t1", "a", 0, "Milk"), why),
                                with(updateOf("m2", "t2", "a", 1, "Oat"), s("undo")),
                                with(removeOf("m3", "t3", "a", 2), QJsonValue::Null),
                                with(insertOf("m4", "t4", "b", 0, "Tea"), QJsonArray { 1, 2 }),
                                insertOf("m5", "t5", "c", 0, "Jam") }),
         &answer);
    for (const PushResult &r : answer.response.results)
        QCOMPARE(outcomeOf(r), s("applied"));
    // Not part of the record.
    QCOMPARE(m_backend->record(s("todos"), s("b")),
             (QJsonObject { { s("id"), s("b") }, { s("title"), s("Tea") } }));

    const QList<PushMutation> pushed = m_backend->pushedMutations();
    QCOMPARE(pushed.size(), 5);
    QCOMPARE(pushed.at(0).metadata, QJsonValue(why));
    QCOMPARE(pushed.at(1).metadata, QJsonValue(s("undo")));
    QVERIFY(pushed.at(2).metadata.isUndefined());
    QCOMPARE(pushed.at(3).metadata, QJsonValue(QJsonArray { 1, 2 }));
    QVERIFY(pushed.at(4).metadata.isUndefined());

    const QVariantList list = m_backend->pushedMutationList();
    QCOMPARE(list.at(0).toMap().value(s("metadata")).toMap(), why.toVariantMap());
    QCOMPARE(list.at(1).toMap().value(s("metadata")).toString(), s("undo"));
    QVERIFY(!list.at(2).toMap().value(s("metadata")).isValid());
    QCOMPARE(list.at(3).toMap().value(s("metadata")).toList(), (QVariantList { 1, 2 }));
    QVERIFY(!list.at(4).toMap().value(s("metadata")).isValid());
}

void tst_TestBackend::resetForgetsDataKeepsSettings()
{
    m_backend->setKeyField(QStringLiteral("todos"), QStringLiteral("uuid"));
    m_backend->setNetworkDelay(5);
    PushAnswer answer;
    PUSH(QList<PushMutation> { insertOf("m1", "t1", "a", 0, "Milk") }, &answer);
    m_backend->failNextPersist(SyncError(SyncError::Validation, QStringLiteral("no")));
    m_backend->reset();

    QCOMPARE(m_backend->currentVersion(), 0);
    QVERIFY(m_backend->records(QStringLiteral("todos")).isEmpty());
    QVERIFY(m_backend->pushedMutations().isEmpty());
    QCOMPARE(m_backend->pushRequestCount(), 0);
    QCOMPARE(m_backend->fetchRequestCount(), 0);
    QCOMPARE(m_backend->networkDelay(), 5);
    QCOMPARE(m_backend->keyField(QStringLiteral("todos")), s("uuid"));
    // The remembered result and the queued failure are gone: m1 is applied afresh.
    PUSH(QList<PushMutation> { insertOf("m1", "t1", "a", 0, "Milk") }, &answer);
    QCOMPARE(outcomeOf(answer.response.results.constFirst()), s("applied"));
    QCOMPARE(answer.response.results.constFirst().version, 1);
}

// ---------------------------------------------------------------------------------------------

void tst_TestBackend::openEngine(SyncCollection::Strategy strategy)
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_engine = std::make_unique<SyncEngine>();
    m_engine->setDatabasePath(m_dir->filePath(QStringLiteral("client.sqlite")));
    QVERIFY(m_engine->open());
    m_engine->retryPolicy()->setInitialDelayMs(20);
    m_engine->retryPolicy()->setMaxDelayMs(200);
    m_engine->setTransport(m_backend->transport());
    m_todos = std::make_unique<SyncCollection>(
            m_engine.get(), QStringLiteral("todos"),
            QStringList { QStringLiteral("title"), QStringLiteral("done") });
    m_todos->setStrategy(strategy);
    m_tester = std::make_unique<QAbstractItemModelTester>(
            m_todos.get(), QAbstractItemModelTester::FailureReportingMode::QtTest);
}

#define OPEN_ENGINE(strategy)                                                                      \
    do {                                                                                           \
        openEngine(strategy);                                                                      \
        if (QTest::currentTestFailed())                                                            \
            return;                                                                                \
    } while (false)

void tst_TestBackend::engineInsertReachesTheBackend_data()
{
    QTest::addColumn<SyncCollection::Strategy>("strategy");
    QTest::addColumn<int>("delayMs");
    QTest::newRow("ordered, instant network") << SyncCollection::Ordered << 0;
    QTest::newRow("parallel, instant network") << SyncCollection::Parallel << 0;
    QTest::newRow("ordered, slow network") << SyncCollection::Ordered << 100;
}

void tst_TestBackend::engineInsertReachesTheBackend()
{
    QFETCH(SyncCollection::Strategy, strategy);
    QFETCH(int, delayMs);
    m_backend->setNetworkDelay(delayMs);
    OPEN_ENGINE(strategy);

    QPointer<Transaction> t = m_todos->insert(QVariantMap { { s("id"), s("a") },
                                                            { s("title"), s("Milk") },
                                                            { s("done"), false } });
    QVERIFY(t);
    QTRY_COMPARE_WITH_TIMEOUT(titles(*m_backend), QStringList { s("a:Milk") }, EngineTimeoutMs);
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->getByKey(s("a")).value(s("syncState")).toInt(),
                              int(SyncCollection::Synced), EngineTimeoutMs);
    QCOMPARE(m_todos->getByKey(s("a")).value(s("version")).toLongLong(),
             m_backend->version(s("todos"), s("a")));
    if (t)
        QCOMPARE(t->state(), Transaction::Completed);

    // Two changes in a row on the same row: both arrive, in order.
    m_todos->update(s("a"), QVariantMap { { s("title"), s("Oat milk") } });
    m_todos->update(s("a"), QVariantMap { { s("done"), true } });
    QTRY_COMPARE_WITH_TIMEOUT(m_backend->record(s("todos"), s("a")).value(s("done")).toBool(), true,
                              EngineTimeoutMs);
    QCOMPARE(m_backend->record(s("todos"), s("a")).value(s("title")).toString(), s("Oat milk"));
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->pendingCount(), 0, EngineTimeoutMs);
}

void tst_TestBackend::engineShowsServerChanges_data()
{
    QTest::addColumn<SyncCollection::Strategy>("strategy");
    QTest::newRow("ordered") << SyncCollection::Ordered;
    QTest::newRow("parallel") << SyncCollection::Parallel;
}

void tst_TestBackend::engineShowsServerChanges()
{
    QFETCH(SyncCollection::Strategy, strategy);
    m_backend->emitUpdate(s("todos"), todo("a", "Milk")); // before the engine: its first pull
    OPEN_ENGINE(strategy);
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->rowCount(), 1, EngineTimeoutMs);

    m_backend->emitUpdate(s("todos"), todo("b", "Tea"));
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->rowCount(), 2, EngineTimeoutMs);
    QCOMPARE(m_todos->getByKey(s("b")).value(s("title")).toString(), s("Tea"));
    QCOMPARE(m_todos->getByKey(s("b")).value(s("version")).toLongLong(), 2);

    m_backend->emitUpdate(s("todos"), todo("a", "Oat milk"));
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->getByKey(s("a")).value(s("title")).toString(),
                              s("Oat milk"), EngineTimeoutMs);

    m_backend->emitDelete(s("todos"), s("b"));
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->indexOfKey(s("b")), -1, EngineTimeoutMs);
    QCOMPARE(m_todos->rowCount(), 1);
}

void tst_TestBackend::engineHandlesInjectedConflict()
{
    OPEN_ENGINE(SyncCollection::Ordered); // conflictPolicy ServerWins (the default)
    m_todos->insert(todo("a", "Milk"));
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->getByKey(s("a")).value(s("syncState")).toInt(),
                              int(SyncCollection::Synced), EngineTimeoutMs);

    m_backend->injectConflict(s("todos"), s("a"), todo("a", "Milk (2 l)"));
    QPointer<Transaction> t =
            m_todos->update(s("a"), QVariantMap { { s("title"), s("Oat milk") } });
    QVERIFY(t);
    QSignalSpy completed(t, &Transaction::completed);
    QTRY_COMPARE_WITH_TIMEOUT(completed.size(), 1, EngineTimeoutMs);
    QCOMPARE(t->conflictOutcome(), Transaction::AdoptServer);
    QCOMPARE(t->record().attempts.constLast().error.code(), SyncError::Conflict);
    // The server wins: the row shows the server's record, and the server kept it.
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->getByKey(s("a")).value(s("title")).toString(),
                              s("Milk (2 l)"), EngineTimeoutMs);
    QCOMPARE(m_backend->record(s("todos"), s("a")).value(s("title")).toString(), s("Milk (2 l)"));
}

void tst_TestBackend::engineFailsOnNonRetryablePersist()
{
    OPEN_ENGINE(SyncCollection::Ordered);
    const SyncError refused(SyncError::Validation, QStringLiteral("title too long"));
    m_backend->failNextPersist(refused);

    QPointer<Transaction> t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QSignalSpy failed(t, &Transaction::failed);
    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, EngineTimeoutMs);
    QCOMPARE(failed.constFirst().constFirst().value<SyncError>().code(), SyncError::Validation);
    QCOMPARE(t->state(), Transaction::Failed);
    QVERIFY(m_backend->records(s("todos")).isEmpty());
    QCOMPARE(m_backend->pushedMutations().size(), 1);
    // The optimistic row is rolled back.
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->indexOfKey(s("a")), -1, EngineTimeoutMs);
}

void tst_TestBackend::engineRetriesRetryablePersist()
{
    OPEN_ENGINE(SyncCollection::Ordered);
    SyncError busy(SyncError::Storage, QStringLiteral("disk busy"));
    busy.setRetryable(true);
    m_backend->failNextPersist(busy);

    QPointer<Transaction> t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QSignalSpy completed(t, &Transaction::completed);
    QTRY_COMPARE_WITH_TIMEOUT(completed.size(), 1, EngineTimeoutMs);
    QCOMPARE(titles(*m_backend), QStringList { s("a:Milk") });
    QCOMPARE(t->attempts().size(), 2);
    // The backend received the mutation twice, under the same id.
    const QList<PushMutation> pushed = m_backend->pushedMutations();
    QCOMPARE(pushed.size(), 2);
    QCOMPARE(pushed.at(0).id, pushed.at(1).id);
}

void tst_TestBackend::engineCatchesUpAfterOffline()
{
    m_backend->setOffline(true);
    OPEN_ENGINE(SyncCollection::Ordered);
    m_todos->insert(todo("a", "Milk"));
    QTRY_VERIFY_WITH_TIMEOUT(m_backend->pushRequestCount() >= 1, EngineTimeoutMs);
    QVERIFY(m_backend->records(s("todos")).isEmpty());
    QCOMPARE(m_todos->getByKey(s("a")).value(s("title")).toString(), s("Milk")); // optimistic
    m_backend->emitUpdate(s("todos"), todo("b", "Tea")); // another client, meanwhile

    m_backend->setOffline(false);
    QTRY_COMPARE_WITH_TIMEOUT(titles(*m_backend), (QStringList { s("a:Milk"), s("b:Tea") }),
                              EngineTimeoutMs);
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->rowCount(), 2, EngineTimeoutMs);
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->pendingCount(), 0, EngineTimeoutMs);
    QCOMPARE(m_backend->pushedMutations().size(), 1); // nothing arrived while offline
}

QTEST_GUILESS_MAIN(tst_TestBackend)
#include "tst_testbackend.moc"
