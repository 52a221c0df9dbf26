// SPDX-License-Identifier: BSD-3-Clause
// Sync runs against a scripted in-process transport: every request the engine makes is
// answered by the test, so each push and pull rule can be checked exactly.

#include <synq/synccollection.h>
#include <synq/syncengine.h>
#include <synq/synctransport.h>

#include <QtCore/QCryptographicHash>
#include <QtCore/QTemporaryDir>
#include <QtSql/QSqlDatabase>
#include <QtSql/QSqlQuery>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include "modelrecorder.h"

#include <memory>

using namespace Synq;

namespace {

class FakeTransport : public SyncTransport
{
    Q_OBJECT
public:
    struct Push
    {
        Protocol::PushRequest request;
        PushCallback done;
    };
    struct Pull
    {
        Protocol::PullRequest request;
        PullCallback done;
    };
    QList<Push> pushes;
    QList<Pull> pulls;

    void push(const Protocol::PushRequest &request, PushCallback done) override
    {
        pushes.append({ request, std::move(done) });
        Q_EMIT requested();
    }
    void pull(const Protocol::PullRequest &request, PullCallback done) override
    {
        pulls.append({ request, std::move(done) });
        Q_EMIT requested();
    }

    // Answers the oldest push: every mutation applied with consecutive versions from first.
    void applyAll(qint64 firstVersion)
    {
        Push p = pushes.takeFirst();
        Protocol::PushResponse response;
        for (const Protocol::PushMutation &m : p.request.mutations) {
            Protocol::PushResult r;
            r.id = m.id;
            r.key = m.key;
            r.version = firstVersion++;
            response.results.append(r);
        }
        p.done(response, SyncError());
    }
    // Answers the oldest push (one mutation) with a per-mutation "retry".
    void answerRetry()
    {
        Protocol::PushResult retry;
        retry.id = pushes.constFirst().request.mutations.constFirst().id;
        retry.status = Protocol::PushResult::Retry;
        retry.key = pushes.constFirst().request.mutations.constFirst().key;
        retry.error = SyncError(SyncError::Network, QStringLiteral("busy")).setRetryable(true);
        answerPush({ { retry } });
    }
    void answerPush(const Protocol::PushResponse &response, const SyncError &error = SyncError())
    {
        Push p = pushes.takeFirst();
        p.done(response, error);
    }
    // Answers the push at `index` (not necessarily the oldest): every mutation applied.
    void applyAt(qsizetype index, qint64 firstVersion)
    {
        pushes.move(index, 0);
        applyAll(firstVersion);
    }
    void answerPull(const QList<Protocol::Change> &changes, const QString &cursor, bool hasMore)
    {
        Pull p = pulls.takeFirst();
        Protocol::PullResponse response;
        response.changes = changes;
        response.cursor = cursor;
        response.hasMore = hasMore;
        p.done(response, SyncError());
    }
    void failPull(const SyncError &error)
    {
        Pull p = pulls.takeFirst();
        p.done({}, error);
    }

Q_SIGNALS:
    void requested();
};

Protocol::Change upsert(const QString &key, qint64 version, const QString &title)
{
    return { QStringLiteral("todos"), key, version, false,
             QJsonObject { { QStringLiteral("id"), key }, { QStringLiteral("title"), title } } };
}

Protocol::Change removal(const QString &key, qint64 version)
{
    return { QStringLiteral("todos"), key, version, true, {} };
}

} // namespace

class tst_SyncRun : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void appliedPushCompletesAndSyncsTheRow();
    void pushCarriesTheProtocolFields();
    void compactionMergesBeforeSending_data();
    void compactionMergesBeforeSending();
    void compactionSurvivesARestart();
    void laterChangesAreRebasedOnTheNewVersion();
    void retryableFailureKeepsTheTransactionAndItsIds();
    void rejectedTransactionFailsAndRollsBack_data();
    void rejectedTransactionFailsAndRollsBack();
    void rowSyncStateFollowsItsTransactions();
    void conflictAdoptsTheServerRecord();
    void oversizedBatchIsSplit();
    void pushesInFlightNeverShareAnItem();
    void answersInAnyOrderAndAFailureWaitForTheOthers();
    void pullAppliesPagesAndStoresTheCursor();
    void pageAskedAheadIsTakenWhenItComes();
    void pullKeepsLocalChangesOnTop();
    void pullNeverResurrectsALocallyRemovedRow();
    void backwardCursorIsAnError();
    void largePullArrivesInChunksWithoutReset();
    void pullIntoRowsNotLoadedYet();
    void answerAfterScopeSwitchIsDropped();
    void clearScopeRemovesOnlyThatScope();
    void resyncRequiredPullsEverythingAgainKeepingTheOutbox();
    void unauthorizedIsRetriedOnceWithNewCredentials();
    void periodicRunsFollowTheInterval();

private:
    // Runs one sync run to the point where the transport has a request waiting.
    void waitForRequest();
    void finishPulls(const QString &cursor = QStringLiteral("c-end"));
    SyncEngine *reopen();
    QVariantMap row(int i) const { return m_todos->get(i); }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<FakeTransport> m_transport;
    std::unique_ptr<SyncEngine> m_engine;
    std::unique_ptr<SyncCollection> m_todos;
    std::unique_ptr<QAbstractItemModelTester> m_tester;
};

void tst_SyncRun::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    m_transport = std::make_unique<FakeTransport>();
    m_engine = std::make_unique<SyncEngine>();
    m_engine->setAutoSync(false); // runs start only through syncNow() here
    m_engine->setDatabasePath(m_dir->filePath(QStringLiteral("run.sqlite")));
    QVERIFY(m_engine->open());
    m_engine->setTransport(m_transport.get());
    m_todos = std::make_unique<SyncCollection>(m_engine.get(), QStringLiteral("todos"),
                                               QStringList { QStringLiteral("title"), QStringLiteral("done") });
    m_tester = std::make_unique<QAbstractItemModelTester>(
            m_todos.get(), QAbstractItemModelTester::FailureReportingMode::QtTest);
}

void tst_SyncRun::cleanup()
{
    m_tester.reset();
    m_todos.reset();
    m_engine.reset();
    m_transport.reset();
    m_dir.reset();
}

void tst_SyncRun::waitForRequest()
{
    if (m_transport->pushes.isEmpty() && m_transport->pulls.isEmpty()) {
        QSignalSpy spy(m_transport.get(), &FakeTransport::requested);
        QVERIFY(spy.wait(5000));
    }
}

void tst_SyncRun::finishPulls(const QString &cursor)
{
    // Answers every pull with an empty last page until the run ends.
    QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);
    for (int guard = 0; guard < 10 && finished.isEmpty(); ++guard) {
        QTRY_VERIFY_WITH_TIMEOUT(!m_transport->pulls.isEmpty() || !finished.isEmpty(), 5000);
        if (!m_transport->pulls.isEmpty())
            m_transport->answerPull({}, cursor, false);
    }
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 5000);
}

SyncEngine *tst_SyncRun::reopen()
{
    m_tester.reset();
    m_todos.reset();
    m_engine.reset();
    m_engine = std::make_unique<SyncEngine>();
    m_engine->setAutoSync(false);
    m_engine->setDatabasePath(m_dir->filePath(QStringLiteral("run.sqlite")));
    if (!m_engine->open())
        return nullptr;
    m_engine->setTransport(m_transport.get());
    m_todos = std::make_unique<SyncCollection>(m_engine.get(), QStringLiteral("todos"),
                                               QStringList { QStringLiteral("title"), QStringLiteral("done") });
    m_tester = std::make_unique<QAbstractItemModelTester>(
            m_todos.get(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    return m_engine.get();
}

void tst_SyncRun::appliedPushCompletesAndSyncsTheRow()
{
    Transaction *t = m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("Milk") } });
    QVERIFY(t);
    const QString key = t->key();
    const QString txId = t->id();
    QSignalSpy completed(t, &Transaction::completed);
    QSignalSpy failed(t, &Transaction::failed);
    QSignalSpy changed(m_todos.get(), &QAbstractItemModel::dataChanged);
    m_engine->syncNow();
    waitForRequest();
    QCOMPARE(t->state(), Transaction::Persisting);
    QCOMPARE(t->currentAttempt(), 1);
    m_transport->applyAll(5);
    finishPulls();

    QCOMPARE(t->state(), Transaction::Completed);
    QCOMPARE(completed.size(), 1);
    QCOMPARE(failed.size(), 0);
    QCOMPARE(t->attempts().size(), 1);
    QVERIFY(t->attempts().constFirst().toMap().value(QStringLiteral("completedAt")).toDateTime().isValid());
    QCOMPARE(row(0).value(QStringLiteral("version")).toLongLong(), 5);
    QCOMPARE(row(0).value(QStringLiteral("syncState")).toInt(), int(SyncCollection::Synced));
    QCOMPARE(row(0).value(QStringLiteral("isOptimistic")).toBool(), false);
    QCOMPARE(row(0).value(QStringLiteral("pendingTransactions")).toInt(), 0);
    QCOMPARE(m_todos->pendingCount(), 0);
    QCOMPARE(m_engine->status()->pendingCount(), 0);
    QVERIFY(!changed.isEmpty());

    // A new process sees the synced row and an empty outbox.
    QVERIFY(reopen());
    QCOMPARE(m_todos->rowCount(), 1);
    QCOMPARE(row(0).value(QStringLiteral("key")).toString(), key);
    QCOMPARE(row(0).value(QStringLiteral("version")).toLongLong(), 5);
    QCOMPARE(row(0).value(QStringLiteral("syncState")).toInt(), int(SyncCollection::Synced));
    QVERIFY(m_engine->transactions().isEmpty());
    QCOMPARE(m_engine->transaction(txId)->state(), Transaction::Completed);
}

void tst_SyncRun::pushCarriesTheProtocolFields()
{
    // Two synced rows first, so that an insert, an update and a remove go out side by side.
    m_engine->syncNow();
    waitForRequest();
    m_transport->answerPull({ upsert(QStringLiteral("b"), 4, QStringLiteral("B")),
                              upsert(QStringLiteral("c"), 5, QStringLiteral("C")) },
                            QStringLiteral("c1"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());

    Transaction *a = m_todos->insert(QVariantMap { { QStringLiteral("id"), QStringLiteral("a") },
                                                  { QStringLiteral("title"), QStringLiteral("Milk") } });
    Transaction *b = m_todos->update(QStringLiteral("b"), QVariantMap { { QStringLiteral("done"), true } });
    Transaction *c = m_todos->remove(QStringLiteral("c"));
    QVERIFY(a && b && c);
    m_engine->syncNow();
    waitForRequest();
    const Protocol::PushRequest request = m_transport->pushes.constFirst().request;
    QCOMPARE(request.mutations.size(), 3);
    const auto &m0 = request.mutations.at(0);
    QCOMPARE(m0.op, MutationType::Insert);
    QCOMPARE(m0.tx, a->id());
    QCOMPARE(m0.id, a->mutations().constFirst().toMap().value(QStringLiteral("mutationId")).toString());
    QCOMPARE(m0.key, QStringLiteral("a"));
    QCOMPARE(m0.baseVersion.value_or(-1), 0);
    QCOMPARE(m0.data.value(QStringLiteral("title")).toString(), QStringLiteral("Milk"));
    QCOMPARE(request.mutations.at(1).op, MutationType::Update);
    QCOMPARE(request.mutations.at(1).baseVersion.value_or(-1), 4);
    QCOMPARE(request.mutations.at(1).data, (QJsonObject { { QStringLiteral("done"), true } }));
    QCOMPARE(request.mutations.at(2).op, MutationType::Remove);
    QCOMPARE(request.mutations.at(2).baseVersion.value_or(-1), 5);
    QCOMPARE(request.mutations.at(2).tx, c->id());
    // The batch id is the SHA-256 of the mutation ids joined by newlines.
    QByteArray joined;
    for (const auto &m : request.mutations)
        joined += (joined.isEmpty() ? "" : "\n") + m.id.toUtf8();
    QCOMPARE(request.batch,
             QString::fromLatin1(QCryptographicHash::hash(joined, QCryptographicHash::Sha256).toHex()));
    QVERIFY(!request.client.isEmpty());
    m_transport->applyAll(6);
    finishPulls();
    QCOMPARE(c->state(), Transaction::Completed);
    QCOMPARE(m_todos->rowCount(), 2);
}

void tst_SyncRun::compactionMergesBeforeSending_data()
{
    QTest::addColumn<bool>("survivorFails");
    QTest::addRow("absorbed changes complete with the survivor") << false;
    QTest::addRow("absorbed changes fail with the survivor") << true;
}

void tst_SyncRun::compactionMergesBeforeSending()
{
    QFETCH(bool, survivorFails);
    Transaction *insert = m_todos->insert(QVariantMap { { QStringLiteral("id"), QStringLiteral("a") },
                                                       { QStringLiteral("title"), QStringLiteral("Milk") } });
    Transaction *update1 = m_todos->update(QStringLiteral("a"), QVariantMap { { QStringLiteral("done"), true } });
    Transaction *update2 = m_todos->update(QStringLiteral("a"), QVariantMap { { QStringLiteral("title"), QStringLiteral("Oat milk") } });
    // An insert and its removal of an item the server never saw: never sent at all.
    Transaction *tmp = m_todos->insert(QVariantMap { { QStringLiteral("id"), QStringLiteral("t") } });
    Transaction *gone = m_todos->remove(QStringLiteral("t"));
    QVERIFY(insert && update1 && update2 && tmp && gone);
    const QString insertId = insert->id();

    m_engine->syncNow();
    waitForRequest();
    QCOMPARE(tmp->state(), Transaction::Completed);
    QCOMPARE(gone->state(), Transaction::Completed);
    const Protocol::PushRequest request = m_transport->pushes.constFirst().request;
    QCOMPARE(request.mutations.size(), 1); // insert + update + update -> one insert
    QCOMPARE(request.mutations.constFirst().tx, insertId);
    QCOMPARE(request.mutations.constFirst().op, MutationType::Insert);
    QCOMPARE(request.mutations.constFirst().data,
             (QJsonObject { { QStringLiteral("id"), QStringLiteral("a") },
                            { QStringLiteral("title"), QStringLiteral("Oat milk") },
                            { QStringLiteral("done"), true } }));
    QCOMPARE(update1->state(), Transaction::Pending); // travelling with the insert

    if (survivorFails) {
        Protocol::PushResult r;
        r.id = request.mutations.constFirst().id;
        r.status = Protocol::PushResult::Rejected;
        r.key = QStringLiteral("a");
        r.error = SyncError(SyncError::Validation, QStringLiteral("no"));
        m_transport->answerPush({ { r } });
    } else {
        m_transport->applyAll(7);
    }
    finishPulls();
    const Transaction::State expected = survivorFails ? Transaction::Failed : Transaction::Completed;
    QCOMPARE(insert->state(), expected);
    QCOMPARE(update1->state(), expected);
    QCOMPARE(update2->state(), expected);
    QCOMPARE(m_engine->status()->pendingCount(), 0);
    if (survivorFails) {
        QCOMPARE(m_todos->rowCount(), 0); // rolled back
        QCOMPARE(update2->error().code(), SyncError::Validation);
    } else {
        QCOMPARE(m_todos->rowCount(), 1);
        QCOMPARE(row(0).value(QStringLiteral("title")).toString(), QStringLiteral("Oat milk"));
        QCOMPARE(row(0).value(QStringLiteral("version")).toLongLong(), 7);
        QCOMPARE(row(0).value(QStringLiteral("syncState")).toInt(), int(SyncCollection::Synced));
    }
}

void tst_SyncRun::compactionSurvivesARestart()
{
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("id"), QStringLiteral("a") },
                                         { QStringLiteral("title"), QStringLiteral("Milk") } }));
    QVERIFY(m_todos->update(QStringLiteral("a"), QVariantMap { { QStringLiteral("done"), true } }));
    m_engine->syncNow();
    waitForRequest();
    const Protocol::PushRequest first = m_transport->pushes.constFirst().request;
    QCOMPARE(first.mutations.size(), 1);
    m_transport->answerPush({}, SyncError(SyncError::Network, QStringLiteral("down")).setRetryable(true));
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    // A new process sends the merged mutation again, same id and data; the absorbed update
    // stays with it.
    QVERIFY(reopen());
    QCOMPARE(m_engine->transactions().size(), 2);
    m_engine->syncNow();
    waitForRequest();
    const Protocol::PushRequest again = m_transport->pushes.constFirst().request;
    QCOMPARE(again.mutations.size(), 1);
    QCOMPARE(again.mutations.constFirst().id, first.mutations.constFirst().id);
    QCOMPARE(again.mutations.constFirst().data, first.mutations.constFirst().data);
    m_transport->applyAll(3);
    finishPulls();
    QCOMPARE(m_engine->status()->pendingCount(), 0);
    QVERIFY(m_engine->transactions().isEmpty()); // survivor and absorbed update completed
}

void tst_SyncRun::laterChangesAreRebasedOnTheNewVersion()
{
    Transaction *a = m_todos->insert(QVariantMap { { QStringLiteral("id"), QStringLiteral("a") },
                                                  { QStringLiteral("title"), QStringLiteral("Milk") } });
    QVERIFY(a);
    m_engine->syncNow();
    waitForRequest();
    // Edited while the insert is on its way (so nothing can be compacted).
    Transaction *b = m_todos->update(QStringLiteral("a"), QVariantMap { { QStringLiteral("done"), true } });
    QVERIFY(b);
    QCOMPARE(b->mutations().constFirst().toMap().value(QStringLiteral("baseVersion")).toLongLong(), 0);
    m_transport->applyAll(8);
    waitForRequest(); // the same run goes on with the update
    QCOMPARE(a->state(), Transaction::Completed);
    // The update was made on the unsynced insert; it now builds on version 8.
    QCOMPARE(b->mutations().constFirst().toMap().value(QStringLiteral("baseVersion")).toLongLong(), 8);
    QCOMPARE(m_transport->pushes.constFirst().request.mutations.constFirst().baseVersion.value_or(-1), 8);
    QCOMPARE(row(0).value(QStringLiteral("version")).toLongLong(), 8);
    QCOMPARE(row(0).value(QStringLiteral("done")).toBool(), true); // still shown on top
    // The update is on its way now.
    QCOMPARE(row(0).value(QStringLiteral("syncState")).toInt(), int(SyncCollection::Syncing));
    m_transport->applyAll(9);
    finishPulls();
    QCOMPARE(row(0).value(QStringLiteral("version")).toLongLong(), 9);
    QCOMPARE(row(0).value(QStringLiteral("syncState")).toInt(), int(SyncCollection::Synced));
    QCOMPARE(b->state(), Transaction::Completed);
}

void tst_SyncRun::retryableFailureKeepsTheTransactionAndItsIds()
{
    Transaction *t = m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("Milk") } });
    QVERIFY(t);
    const QString txId = t->id();
    QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);
    m_engine->syncNow();
    waitForRequest();
    const Protocol::PushRequest first = m_transport->pushes.constFirst().request;
    m_transport->answerPush({}, SyncError(SyncError::Network, QStringLiteral("bad gateway"))
                                        .setHttpStatus(502)
                                        .setRetryable(true));
    QTRY_COMPARE(finished.size(), 1);
    QCOMPARE(t->state(), Transaction::Pending);
    QCOMPARE(t->attempts().size(), 1);
    QCOMPARE(t->attempts().constFirst().toMap().value(QStringLiteral("error")).value<SyncError>().code(),
             SyncError::Network);
    QCOMPARE(m_engine->status()->lastError().code(), SyncError::Network);
    QCOMPARE(row(0).value(QStringLiteral("syncState")).toInt(), int(SyncCollection::Pending));

    // After a restart, the same mutation goes out again with the same ids (idempotency).
    QVERIFY(reopen());
    m_engine->syncNow();
    waitForRequest();
    const Protocol::PushRequest second = m_transport->pushes.constFirst().request;
    QCOMPARE(second.mutations.constFirst().id, first.mutations.constFirst().id);
    QCOMPARE(second.batch, first.batch);
    Transaction *again = m_engine->transaction(txId); // the old handle died with its engine
    QVERIFY(again);
    QCOMPARE(again->attempts().size(), 2);
    m_transport->applyAll(3);
    finishPulls();
    QCOMPARE(again->state(), Transaction::Completed);
}

void tst_SyncRun::rejectedTransactionFailsAndRollsBack_data()
{
    QTest::addColumn<bool>("wholeRequest");
    QTest::addRow("a rejected result fails its transaction") << false;
    QTest::addRow("a non-retriable request error fails the batch") << true;
}

void tst_SyncRun::rejectedTransactionFailsAndRollsBack()
{
    QFETCH(bool, wholeRequest);
    // Synced row "a" first.
    m_engine->syncNow();
    waitForRequest();
    m_transport->answerPull({ upsert(QStringLiteral("a"), 4, QStringLiteral("Milk")) }, QStringLiteral("c1"), false);
    QTRY_COMPARE(m_todos->rowCount(), 1);
    QTRY_VERIFY(!m_engine->status()->isSyncing());

    Transaction *u = m_todos->update(QStringLiteral("a"), QVariantMap { { QStringLiteral("title"), QStringLiteral("Oat milk") } });
    Transaction *i = m_todos->insert(QVariantMap { { QStringLiteral("id"), QStringLiteral("b") },
                                                  { QStringLiteral("title"), QStringLiteral("Tea") } });
    QVERIFY(u && i);
    QSignalSpy failedU(u, &Transaction::failed);
    m_engine->syncNow();
    waitForRequest();
    if (wholeRequest) {
        m_transport->answerPush({}, SyncError(SyncError::Forbidden, QStringLiteral("no")).setHttpStatus(403));
    } else {
        const auto &req = m_transport->pushes.constFirst().request;
        Protocol::PushResponse response;
        Protocol::PushResult r0;
        r0.id = req.mutations.at(0).id;
        r0.status = Protocol::PushResult::Rejected;
        r0.key = QStringLiteral("a");
        r0.error = SyncError(SyncError::Validation, QStringLiteral("title too long"));
        Protocol::PushResult r1;
        r1.id = req.mutations.at(1).id;
        r1.status = Protocol::PushResult::Rejected;
        r1.key = QStringLiteral("b");
        r1.error = SyncError(SyncError::Validation, QStringLiteral("no tea"));
        response.results = { r0, r1 };
        m_transport->answerPush(response);
    }
    finishPulls(QStringLiteral("c2"));
    QCOMPARE(u->state(), Transaction::Failed);
    QCOMPARE(i->state(), Transaction::Failed);
    QCOMPARE(failedU.size(), 1);
    QVERIFY(!u->error().isRetryable());
    // Rolled back: the update's field returns, the inserted row goes.
    QCOMPARE(m_todos->rowCount(), 1);
    QCOMPARE(row(0).value(QStringLiteral("title")).toString(), QStringLiteral("Milk"));
    // The row shows the failure until the dead letter is retried or discarded.
    QCOMPARE(row(0).value(QStringLiteral("syncState")).toInt(), int(SyncCollection::Failed));
    QCOMPARE(row(0).value(QStringLiteral("lastError")).value<SyncError>(), u->error());
    QCOMPARE(m_engine->status()->failedCount(), 2);
    QCOMPARE(m_engine->status()->pendingCount(), 0);
    // Dead letters are kept across restarts, with their errors.
    const SyncError before = u->error();
    QVERIFY(reopen());
    QCOMPARE(m_engine->transactions().size(), 2);
    const SyncError after = m_engine->transactions().constFirst()->error();
    QCOMPARE(after.code(), before.code());
    QCOMPARE(after.message(), before.message());
    QCOMPARE(after.httpStatus(), before.httpStatus());
    QVERIFY(!after.isRetryable());
    QCOMPARE(m_engine->status()->failedCount(), 2);
    QCOMPARE(row(0).value(QStringLiteral("title")).toString(), QStringLiteral("Milk"));
    QCOMPARE(row(0).value(QStringLiteral("syncState")).toInt(), int(SyncCollection::Failed));
    QCOMPARE(row(0).value(QStringLiteral("lastError")).value<SyncError>().message(),
             before.message());
}

// A row's syncState says where its changes are: Pending until sent, Syncing while on their way,
// Failed with lastError while a dead letter holds it, Synced once nothing is left — each
// step one dataChanged of the meta roles.
void tst_SyncRun::rowSyncStateFollowsItsTransactions()
{
    auto state = [this] { return row(0).value(QStringLiteral("syncState")).toInt(); };
    m_engine->syncNow();
    waitForRequest();
    m_transport->answerPull({ upsert(QStringLiteral("a"), 4, QStringLiteral("Milk")) }, QStringLiteral("c1"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    QCOMPARE(state(), int(SyncCollection::Synced));
    SynqTest::ModelRecorder rec(m_todos.get());

    Transaction *u = m_todos->update(QStringLiteral("a"), QVariantMap { { QStringLiteral("title"), QStringLiteral("Oat milk") } });
    QVERIFY(u);
    QCOMPARE(state(), int(SyncCollection::Pending));
    QCOMPARE(rec.take(), QStringList { QStringLiteral("changed 0-0 display,isOptimistic,pendingTransactions,syncState,title") });
    m_engine->syncNow();
    waitForRequest();
    QCOMPARE(u->state(), Transaction::Persisting);
    QCOMPARE(state(), int(SyncCollection::Syncing));
    QCOMPARE(rec.take(), QStringList { QStringLiteral("changed 0-0 syncState") });

    // Refused for good: the change rolls back and the row shows why.
    Protocol::PushResult refused;
    refused.id = m_transport->pushes.constFirst().request.mutations.constFirst().id;
    refused.status = Protocol::PushResult::Rejected;
    refused.key = QStringLiteral("a");
    refused.error = SyncError(SyncError::Validation, QStringLiteral("title too long"));
    m_transport->answerPush({ { refused } });
    finishPulls(QStringLiteral("c2"));
    QCOMPARE(u->state(), Transaction::Failed);
    QCOMPARE(state(), int(SyncCollection::Failed));
    QCOMPARE(row(0).value(QStringLiteral("lastError")).value<SyncError>().message(),
             QStringLiteral("title too long"));
    QCOMPARE(row(0).value(QStringLiteral("title")).toString(), QStringLiteral("Milk"));

    // Retried: pending again, on its way, then synced; the error is gone.
    QVERIFY(m_engine->retry(u->id()));
    QCOMPARE(state(), int(SyncCollection::Pending));
    QVERIFY(!row(0).value(QStringLiteral("lastError")).value<SyncError>().isError());
    QCOMPARE(row(0).value(QStringLiteral("title")).toString(), QStringLiteral("Oat milk"));
    m_engine->syncNow();
    waitForRequest();
    QCOMPARE(state(), int(SyncCollection::Syncing));
    m_transport->applyAll(5);
    finishPulls(QStringLiteral("c3"));
    QCOMPARE(u->state(), Transaction::Completed);
    QCOMPARE(state(), int(SyncCollection::Synced));
    QCOMPARE(row(0).value(QStringLiteral("version")).toLongLong(), 5);
}

void tst_SyncRun::conflictAdoptsTheServerRecord()
{
    m_engine->syncNow();
    waitForRequest();
    m_transport->answerPull({ upsert(QStringLiteral("a"), 4, QStringLiteral("Milk")) }, QStringLiteral("c1"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    Transaction *u = m_todos->update(QStringLiteral("a"), QVariantMap { { QStringLiteral("title"), QStringLiteral("Oat milk") } });
    QVERIFY(u);
    m_engine->syncNow();
    waitForRequest();
    Protocol::PushResult r;
    r.id = m_transport->pushes.constFirst().request.mutations.constFirst().id;
    r.status = Protocol::PushResult::Conflict;
    r.key = QStringLiteral("a");
    r.version = 6;
    r.record = QJsonObject { { QStringLiteral("id"), QStringLiteral("a") }, { QStringLiteral("title"), QStringLiteral("Milk 2l") } };
    r.error = SyncError(SyncError::Conflict, QStringLiteral("changed"));
    m_transport->answerPush({ { r } });
    finishPulls(QStringLiteral("c2"));
    // Server wins (the default): the change is dropped, the transaction is over, and the
    // attempt that met the conflict says so.
    QCOMPARE(u->state(), Transaction::Completed);
    QCOMPARE(u->conflictOutcome(), Transaction::AdoptServer);
    QCOMPARE(u->error().code(), SyncError::None);
    QCOMPARE(u->record().attempts.constLast().error.code(), SyncError::Conflict);
    QVERIFY(m_engine->deadLetters().isEmpty());
    QCOMPARE(row(0).value(QStringLiteral("title")).toString(), QStringLiteral("Milk 2l"));
    QCOMPARE(row(0).value(QStringLiteral("version")).toLongLong(), 6);
}

void tst_SyncRun::oversizedBatchIsSplit()
{
    QVariantList items;
    for (int i = 0; i < 4; ++i)
        QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("title"), i } }));
    m_engine->syncNow();
    waitForRequest();
    QCOMPARE(m_transport->pushes.constFirst().request.mutations.size(), 4);
    m_transport->answerPush({}, SyncError(SyncError::Validation, QStringLiteral("too large")).setHttpStatus(413).setRetryable(true));
    waitForRequest();
    QCOMPARE(m_transport->pushes.constFirst().request.mutations.size(), 2);
    m_transport->applyAll(1);
    waitForRequest();
    QCOMPARE(m_transport->pushes.constFirst().request.mutations.size(), 2);
    m_transport->applyAll(3);
    finishPulls();
    QCOMPARE(m_engine->status()->pendingCount(), 0);
}

// With maxPushesInFlight 2 the next batch goes out before the previous one is answered —
// unless it has an item of a push on its way: then it waits for that answer. (Ordered
// transactions queue behind a change on its way anyway; parallel ones would not.)
void tst_SyncRun::pushesInFlightNeverShareAnItem()
{
    m_todos->setStrategy(SyncCollection::Parallel);
    m_transport->setBatchSize(2);
    m_transport->setMaxPushesInFlight(2);
    for (const char *key : { "a", "b", "c", "d" })
        QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("id"), QString::fromLatin1(key) },
                                              { QStringLiteral("title"), QString::fromLatin1(key) } }));
    QVERIFY(m_todos->update(QStringLiteral("a"), QVariantMap { { QStringLiteral("title"), QStringLiteral("a2") } }));
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("id"), QStringLiteral("e") },
                                          { QStringLiteral("title"), QStringLiteral("e") } }));
    m_engine->syncNow();
    waitForRequest();
    // Parallel transactions are never folded: a+b and c+d go first, then a's update and e.
    QCOMPARE(m_transport->pushes.size(), 2);
    auto keysOf = [](const FakeTransport::Push &p) {
        QStringList keys;
        for (const Protocol::PushMutation &m : p.request.mutations)
            keys << m.key;
        return keys;
    };
    QCOMPARE(keysOf(m_transport->pushes.at(0)), QStringList({ QStringLiteral("a"), QStringLiteral("b") }));
    QCOMPARE(keysOf(m_transport->pushes.at(1)), QStringList({ QStringLiteral("c"), QStringLiteral("d") }));
    // A change to b while its push is on its way waits for that answer.
    QVERIFY(m_todos->update(QStringLiteral("b"), QVariantMap { { QStringLiteral("title"), QStringLiteral("b2") } }));
    m_transport->applyAt(1, 3); // c, d answered first: a's update + e would go beside a + b
    QCOMPARE(m_transport->pushes.size(), 1);
    m_transport->applyAll(1); // a, b
    QTRY_COMPARE(m_transport->pushes.size(), 2); // two batches that share no item
    QCOMPARE(keysOf(m_transport->pushes.at(0)), QStringList({ QStringLiteral("a"), QStringLiteral("e") }));
    QCOMPARE(keysOf(m_transport->pushes.at(1)), QStringList({ QStringLiteral("b") }));
    QCOMPARE(m_transport->pushes.at(1).request.mutations.at(0).baseVersion, 2); // after b's answer
    m_transport->applyAll(5); // a, e
    m_transport->applyAll(7); // b
    finishPulls();
    QCOMPARE(m_engine->status()->pendingCount(), 0);
    QCOMPARE(m_todos->getByKey(QStringLiteral("a")).value(QStringLiteral("title")).toString(), QStringLiteral("a2"));
    QCOMPARE(m_todos->getByKey(QStringLiteral("b")).value(QStringLiteral("title")).toString(), QStringLiteral("b2"));
}

// Answers settle in the order they come; a failure that ends the run lets the pushes still on
// their way be answered and settled first, and nothing stays Persisting.
void tst_SyncRun::answersInAnyOrderAndAFailureWaitForTheOthers()
{
    m_transport->setBatchSize(1);
    m_transport->setMaxPushesInFlight(2);
    QList<Transaction *> ts;
    for (int i = 0; i < 3; ++i)
        ts << m_todos->insert(QVariantMap { { QStringLiteral("title"), i } });
    m_engine->syncNow();
    waitForRequest();
    QCOMPARE(m_transport->pushes.size(), 2);
    m_transport->applyAt(1, 10); // the second is answered first
    QTRY_COMPARE(ts.at(1)->state(), Transaction::Completed);
    QCOMPARE(ts.at(0)->state(), Transaction::Persisting);
    QTRY_COMPARE(m_transport->pushes.size(), 2); // the third went out

    QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);
    // The first fails with the server in trouble: the run waits for the third's answer.
    m_transport->answerPush({}, SyncError(SyncError::Network, QStringLiteral("busy")).setHttpStatus(503).setRetryable(true));
    QCOMPARE(ts.at(0)->state(), Transaction::Pending);
    QVERIFY(finished.isEmpty());
    QVERIFY(m_engine->status()->isSyncing());
    m_transport->applyAll(11);
    QTRY_COMPARE(finished.size(), 1);
    QCOMPARE(ts.at(2)->state(), Transaction::Completed);
    QCOMPARE(ts.at(0)->state(), Transaction::Pending); // goes again when its retry is due
    QCOMPARE(m_transport->pulls.size(), 0); // the run ended without pulling
    QCOMPARE(finished.at(0).at(0).toMap().value(QStringLiteral("error")).value<SyncError>().code(),
             SyncError::Network);
}

void tst_SyncRun::pullAppliesPagesAndStoresTheCursor()
{
    QSignalSpy resets(m_todos.get(), &QAbstractItemModel::modelReset);
    m_engine->syncNow();
    waitForRequest();
    QCOMPARE(m_transport->pulls.constFirst().request.collection, QStringLiteral("todos"));
    QVERIFY(m_transport->pulls.constFirst().request.cursor.isEmpty());
    m_transport->answerPull({ upsert(QStringLiteral("a"), 1, QStringLiteral("A")),
                              upsert(QStringLiteral("b"), 2, QStringLiteral("B")) },
                            QStringLiteral("c1"), true);
    // The next page is asked for as soon as this one came (its cursor is in it), before this
    // one is written and shown; answered at once, it is still applied after it.
    QCOMPARE(m_transport->pulls.size(), 1);
    QCOMPARE(m_todos->rowCount(), 0);
    QCOMPARE(m_transport->pulls.constFirst().request.cursor, QStringLiteral("c1"));
    m_transport->answerPull({ upsert(QStringLiteral("a"), 3, QStringLiteral("A2")), removal(QStringLiteral("b"), 4) },
                            QStringLiteral("c2"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    QCOMPARE(m_todos->rowCount(), 1);
    QCOMPARE(row(0).value(QStringLiteral("title")).toString(), QStringLiteral("A2"));
    QCOMPARE(row(0).value(QStringLiteral("version")).toLongLong(), 3);
    QCOMPARE(row(0).value(QStringLiteral("syncState")).toInt(), int(SyncCollection::Synced));
    QCOMPARE(resets.size(), 0);
    QVERIFY(m_engine->status()->lastSyncedAt().isValid());

    // The next run starts from the stored cursor, also after a restart.
    QVERIFY(reopen());
    QCOMPARE(m_todos->rowCount(), 1);
    m_engine->syncNow();
    waitForRequest();
    QCOMPARE(m_transport->pulls.constFirst().request.cursor, QStringLiteral("c2"));
}

void tst_SyncRun::pageAskedAheadIsTakenWhenItComes()
{
    // The page asked for ahead comes after the one before it was shown: it is taken then.
    m_engine->syncNow();
    waitForRequest();
    m_transport->answerPull({ upsert(QStringLiteral("a"), 1, QStringLiteral("A")) },
                            QStringLiteral("c1"), true);
    QTRY_COMPARE(m_todos->rowCount(), 1);
    QVERIFY(m_engine->status()->isSyncing());
    QCOMPARE(m_transport->pulls.size(), 1); // asked for once, not again
    m_transport->answerPull({ upsert(QStringLiteral("b"), 2, QStringLiteral("B")) },
                            QStringLiteral("c2"), true);
    QTRY_COMPARE(m_todos->rowCount(), 2);
    QCOMPARE(m_transport->pulls.size(), 1);
    QCOMPARE(m_transport->pulls.constFirst().request.cursor, QStringLiteral("c2"));

    // It fails: the run fails, and the cursor stays after the last page applied.
    QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);
    m_transport->failPull(SyncError(SyncError::Network, QStringLiteral("gone")).setHttpStatus(503).setRetryable(true));
    QTRY_COMPARE(finished.size(), 1);
    QCOMPARE(finished.constFirst().constFirst().toMap().value(QStringLiteral("error")).value<SyncError>().code(),
             SyncError::Network);
    QCOMPARE(m_todos->rowCount(), 2);
    m_engine->syncNow();
    waitForRequest();
    QCOMPARE(m_transport->pulls.constFirst().request.cursor, QStringLiteral("c2"));
}

void tst_SyncRun::pullKeepsLocalChangesOnTop()
{
    m_engine->syncNow();
    waitForRequest();
    m_transport->answerPull({ upsert(QStringLiteral("a"), 1, QStringLiteral("A")) }, QStringLiteral("c1"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    QVERIFY(m_todos->update(QStringLiteral("a"), QVariantMap { { QStringLiteral("done"), true } }));

    // The push is told to retry later; the run goes on to pull a newer server version.
    m_engine->syncNow();
    waitForRequest();
    m_transport->answerRetry(); // "try again later" for the one pushed mutation
    waitForRequest();
    QVERIFY(m_transport->pushes.isEmpty()); // no second attempt in the same run
    m_transport->answerPull({ upsert(QStringLiteral("a"), 2, QStringLiteral("A2")) }, QStringLiteral("c2"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());

    auto check = [this] {
        QCOMPARE(m_todos->rowCount(), 1);
        QCOMPARE(row(0).value(QStringLiteral("title")).toString(), QStringLiteral("A2")); // server
        QCOMPARE(row(0).value(QStringLiteral("done")).toBool(), true); // local, on top
        QCOMPARE(row(0).value(QStringLiteral("version")).toLongLong(), 2);
        QCOMPARE(row(0).value(QStringLiteral("syncState")).toInt(), int(SyncCollection::Pending));
    };
    check();
    QVERIFY(reopen());
    check();
}

void tst_SyncRun::pullNeverResurrectsALocallyRemovedRow()
{
    m_engine->syncNow();
    waitForRequest();
    m_transport->answerPull({ upsert(QStringLiteral("a"), 1, QStringLiteral("A")) }, QStringLiteral("c1"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    QVERIFY(m_todos->remove(QStringLiteral("a")));
    m_engine->syncNow();
    waitForRequest();
    m_transport->answerRetry(); // "try again later" for the one pushed mutation
    waitForRequest();
    m_transport->answerPull({ upsert(QStringLiteral("a"), 2, QStringLiteral("A2")) }, QStringLiteral("c2"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    QCOMPARE(m_todos->rowCount(), 0);
    QVERIFY(reopen());
    QCOMPARE(m_todos->rowCount(), 0);
    QCOMPARE(m_engine->transactions().size(), 1);
}

void tst_SyncRun::backwardCursorIsAnError()
{
    m_engine->syncNow();
    waitForRequest();
    m_transport->answerPull({ upsert(QStringLiteral("a"), 10, QStringLiteral("A")) }, QStringLiteral("c1"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    QSignalSpy errors(m_engine.get(), &SyncEngine::errorOccurred);
    m_engine->syncNow();
    waitForRequest();
    m_transport->answerPull({ upsert(QStringLiteral("b"), 9, QStringLiteral("B")) }, QStringLiteral("c0"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.constFirst().constFirst().value<SyncError>().code(), SyncError::Protocol);
    QCOMPARE(m_todos->rowCount(), 1);
    // The cursor did not move.
    m_engine->syncNow();
    waitForRequest();
    QCOMPARE(m_transport->pulls.constFirst().request.cursor, QStringLiteral("c1"));
}

void tst_SyncRun::largePullArrivesInChunksWithoutReset()
{
    QSignalSpy resets(m_todos.get(), &QAbstractItemModel::modelReset);
    QSignalSpy inserted(m_todos.get(), &QAbstractItemModel::rowsInserted);
    m_engine->syncNow();
    waitForRequest();
    QList<Protocol::Change> page;
    for (int i = 0; i < 1200; ++i)
        page.append(upsert(QStringLiteral("k%1").arg(i, 5, 10, QLatin1Char('0')), i + 1, QStringLiteral("t%1").arg(i)));
    m_transport->answerPull(page, QStringLiteral("c1"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    QCOMPARE(m_todos->rowCount(), 1200);
    QCOMPARE(resets.size(), 0);
    QCOMPARE(inserted.size(), 5); // 4 × 250 + 200, one range each
    QCOMPARE(inserted.at(0).at(1).toInt(), 0);
    QCOMPARE(inserted.at(0).at(2).toInt(), 249);
    QCOMPARE(inserted.at(4).at(1).toInt(), 1000);
    QCOMPARE(inserted.at(4).at(2).toInt(), 1199);
    QCOMPARE(row(1199).value(QStringLiteral("title")).toString(), QStringLiteral("t1199"));
}

/*
    A reopened large collection holds its first 500 rows; pulled changes to rows not loaded yet
    are not shown early (the rows come with them when loaded), new rows are shown at once, and
    nothing is shown twice or stale.
*/
void tst_SyncRun::pullIntoRowsNotLoadedYet()
{
    auto key = [](int i) { return QStringLiteral("k%1").arg(i, 5, 10, QLatin1Char('0')); };
    m_engine->syncNow();
    waitForRequest();
    QList<Protocol::Change> page;
    for (int i = 0; i < 2000; ++i)
        page.append(upsert(key(i), i + 1, QStringLiteral("t%1").arg(i)));
    m_transport->answerPull(page, QStringLiteral("c1"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    QVERIFY(reopen());
    // The model tester asks for more rows on every change, as a view scrolled to the end
    // would; this test needs rows left unloaded while the pull lands.
    m_tester.reset();
    QCOMPARE(m_todos->rowCount(), 500);
    QCoreApplication::processEvents(); // the page the tester asked for when it was attached
    QCOMPARE(m_todos->rowCount(), 1000);

    m_engine->syncNow();
    waitForRequest();
    m_transport->answerPull({ upsert(key(100), 3000, QStringLiteral("loaded, changed")),
                              upsert(key(1500), 3001, QStringLiteral("not loaded, changed")),
                              removal(key(1550), 3002),
                              upsert(QStringLiteral("fresh"), 3003, QStringLiteral("new")) },
                            QStringLiteral("c2"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    QCOMPARE(m_todos->rowCount(), 1001);
    QCOMPARE(row(100).value(QStringLiteral("title")).toString(), QStringLiteral("loaded, changed"));
    QCOMPARE(row(1000).value(QStringLiteral("key")).toString(), QStringLiteral("fresh"));

    m_tester = std::make_unique<QAbstractItemModelTester>(
            m_todos.get(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    for (int pages = 0; m_todos->canFetchMore() && pages < 20; ++pages) {
        m_todos->fetchMore();
        QCoreApplication::processEvents();
    }
    QVERIFY(!m_todos->canFetchMore());
    QCOMPARE(m_todos->rowCount(), 2000); // 2,000 - 1 removed + 1 new
    QSet<QString> keys;
    for (int i = 0; i < m_todos->rowCount(); ++i)
        keys.insert(row(i).value(QStringLiteral("key")).toString());
    QCOMPARE(keys.size(), 2000);
    QVERIFY(!keys.contains(key(1550)));
    QCOMPARE(m_todos->indexOfKey(key(1500)), 1500);
    QCOMPARE(row(1500).value(QStringLiteral("title")).toString(), QStringLiteral("not loaded, changed"));
    QCOMPARE(row(1500).value(QStringLiteral("version")).toLongLong(), 3001);
    QCOMPARE(row(1999).value(QStringLiteral("key")).toString(), QStringLiteral("fresh"));
}

void tst_SyncRun::answerAfterScopeSwitchIsDropped()
{
    m_engine->setScope({ { QStringLiteral("user"), QStringLiteral("ann") } });
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("ann's") } }));
    m_engine->syncNow();
    waitForRequest();
    m_engine->setScope({ { QStringLiteral("user"), QStringLiteral("bob") } });
    m_transport->applyAll(1); // arrives for ann, after the switch
    QCOMPARE(m_todos->rowCount(), 0);
    m_engine->setScope({ { QStringLiteral("user"), QStringLiteral("ann") } });
    QCOMPARE(m_todos->rowCount(), 1);
    // Still pending for ann: it goes out again on the next run.
    QCOMPARE(m_engine->transactions().constFirst()->state(), Transaction::Pending);
}

void tst_SyncRun::clearScopeRemovesOnlyThatScope()
{
    m_engine->setScope({ { QStringLiteral("user"), QStringLiteral("ann") } });
    m_engine->syncNow();
    waitForRequest();
    m_transport->answerPull({ upsert(QStringLiteral("a"), 1, QStringLiteral("A")) }, QStringLiteral("c1"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("ann's") } }));
    m_engine->setScope({ { QStringLiteral("user"), QStringLiteral("bob") } });
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("bob's") } }));
    m_engine->setScope({ { QStringLiteral("user"), QStringLiteral("ann") } });
    QCOMPARE(m_todos->rowCount(), 2);

    m_engine->syncNow(); // a request in flight when the scope goes
    waitForRequest();
    QSignalSpy resets(m_todos.get(), &QAbstractItemModel::modelReset);
    QVERIFY(m_engine->clearScope());
    QCOMPARE(resets.size(), 1);
    QCOMPARE(m_todos->rowCount(), 0);
    QCOMPARE(m_engine->transactions().size(), 0);
    m_transport->applyAll(5); // dropped
    QCOMPARE(m_todos->rowCount(), 0);

    // The next pull of ann's scope starts from the beginning; bob's scope is untouched.
    m_engine->syncNow();
    waitForRequest();
    QVERIFY(m_transport->pulls.constFirst().request.cursor.isEmpty());
    m_transport->answerPull({}, QStringLiteral("c0"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    m_engine->setScope({ { QStringLiteral("user"), QStringLiteral("bob") } });
    QCOMPARE(m_todos->rowCount(), 1);
    QCOMPARE(row(0).value(QStringLiteral("title")).toString(), QStringLiteral("bob's"));
    QCOMPARE(m_engine->transactions().size(), 1);
}

void tst_SyncRun::resyncRequiredPullsEverythingAgainKeepingTheOutbox()
{
    m_engine->syncNow();
    waitForRequest();
    m_transport->answerPull({ upsert(QStringLiteral("a"), 1, QStringLiteral("A")),
                              upsert(QStringLiteral("b"), 2, QStringLiteral("B")),
                              upsert(QStringLiteral("c"), 3, QStringLiteral("C")) },
                            QStringLiteral("c3"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());
    // A local change that must survive the re-sync.
    QVERIFY(m_todos->update(QStringLiteral("c"), QVariantMap { { QStringLiteral("done"), true } }));

    m_engine->syncNow();
    waitForRequest();
    m_transport->answerRetry(); // "try again later" for the one pushed mutation
    waitForRequest();
    QCOMPARE(m_transport->pulls.constFirst().request.cursor, QStringLiteral("c3"));
    m_transport->failPull(SyncError(SyncError::Protocol, QStringLiteral("resync-required")).setHttpStatus(410));
    waitForRequest();
    // From the beginning: "b" was deleted while its tombstone was forgotten, so it is not listed.
    QVERIFY(m_transport->pulls.constFirst().request.cursor.isEmpty());
    m_transport->answerPull({ upsert(QStringLiteral("a"), 1, QStringLiteral("A")) }, QStringLiteral("s1"), true);
    waitForRequest();
    m_transport->answerPull({ upsert(QStringLiteral("c"), 9, QStringLiteral("C9")) }, QStringLiteral("s2"), false);
    QTRY_VERIFY(!m_engine->status()->isSyncing());

    QCOMPARE(m_todos->rowCount(), 2);
    QCOMPARE(m_todos->indexOfKey(QStringLiteral("b")), -1);
    const QVariantMap c = m_todos->getByKey(QStringLiteral("c"));
    QCOMPARE(c.value(QStringLiteral("title")).toString(), QStringLiteral("C9"));
    QCOMPARE(c.value(QStringLiteral("done")).toBool(), true); // the outbox kept its change
    QCOMPARE(m_engine->status()->pendingCount(), 1);
    QVERIFY(reopen());
    QCOMPARE(m_todos->rowCount(), 2);
    m_engine->syncNow();
    waitForRequest();
    m_transport->applyAll(10);
    waitForRequest();
    QCOMPARE(m_transport->pulls.constFirst().request.cursor, QStringLiteral("s2"));
}

void tst_SyncRun::unauthorizedIsRetriedOnceWithNewCredentials()
{
    Transaction *t = m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("Milk") } });
    QVERIFY(t);
    const SyncError unauthorized = SyncError(SyncError::Unauthorized, QStringLiteral("expired"))
                                           .setHttpStatus(401)
                                           .setRetryable(true);
    m_engine->syncNow();
    waitForRequest();
    const QString mutationId = m_transport->pushes.constFirst().request.mutations.constFirst().id;
    m_transport->answerPush({}, unauthorized);
    waitForRequest(); // the same batch, once more
    QCOMPARE(m_transport->pushes.size(), 1);
    QCOMPARE(m_transport->pushes.constFirst().request.mutations.constFirst().id, mutationId);
    QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);
    m_transport->answerPush({}, unauthorized); // still refused: no third try in this run
    QTRY_COMPARE(finished.size(), 1);
    QVERIFY(m_transport->pushes.isEmpty());
    QCOMPARE(t->state(), Transaction::Pending);
    QCOMPARE(m_engine->status()->lastError().code(), SyncError::Unauthorized);

    // Next run: a 401 on the pull is retried once as well.
    m_engine->syncNow();
    waitForRequest();
    m_transport->applyAll(1);
    waitForRequest();
    m_transport->failPull(unauthorized);
    waitForRequest();
    QCOMPARE(m_transport->pulls.size(), 1);
    finishPulls();
    QCOMPARE(t->state(), Transaction::Completed);

    // Two pushes on their way with the old credentials: both go again once, then succeed.
    m_transport->setBatchSize(1);
    m_transport->setMaxPushesInFlight(2);
    Transaction *u = m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("Tea") } });
    Transaction *v = m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("Jam") } });
    m_engine->syncNow();
    waitForRequest();
    QCOMPARE(m_transport->pushes.size(), 2);
    m_transport->answerPush({}, unauthorized);
    QTRY_COMPARE(m_transport->pushes.size(), 2); // the first again, beside the second
    m_transport->answerPush({}, unauthorized); // the second, sent with the old credentials
    QTRY_COMPARE(m_transport->pushes.size(), 2);
    m_transport->applyAll(10);
    m_transport->applyAll(11);
    finishPulls();
    QCOMPARE(u->state(), Transaction::Completed);
    QCOMPARE(v->state(), Transaction::Completed);
    QCOMPARE(u->attempts().size(), 1); // the refused ones were withdrawn, not failed
    QCOMPARE(v->attempts().size(), 1);
}

void tst_SyncRun::periodicRunsFollowTheInterval()
{
    QSignalSpy started(m_engine.get(), &SyncEngine::syncStarted);
    m_engine->setSyncInterval(20);
    m_engine->setAutoSync(true);
    // Each run pulls once; answering it lets the next periodic run come.
    for (int run = 0; run < 3; ++run) {
        waitForRequest();
        QVERIFY(!m_transport->pulls.isEmpty());
        m_transport->answerPull({}, QStringLiteral("c%1").arg(run), false);
    }
    QVERIFY(started.size() >= 3);
    m_engine->setAutoSync(false);
}

QTEST_GUILESS_MAIN(tst_SyncRun)
#include "tst_syncrun.moc"
