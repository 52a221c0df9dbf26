// SPDX-License-Identifier: BSD-3-Clause
// Transactions end to end: Retries with back-off, dead letters, the queue limit, and recovery after a restart.
// (transactionsfixture.h: the engine, models and backend every test starts with.)
#include "transactionsfixture.h"

using namespace TransactionTests;

class tst_TransactionRetries : public TransactionsFixture
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data() { addStrategies(); }
    void init() { setUp(); }
    void cleanup() { tearDown(); }

    // 4. Retries and dead letters
    void retryableFailureIsRetriedWithBackoff();
    void retriesExhaustedEndInFailed_data();
    void retriesExhaustedEndInFailed();
    void nonRetryableFailureFailsAtOnce_data();
    void nonRetryableFailureFailsAtOnce();
    void retryPolicyChangesTakeEffect();
    void offlineUsesUpNoAttempts();
    void deadLetterIsRetried();
    void deadLetterIsDiscarded();
    void retryAndDiscardRefuseWhatIsNotADeadLetter();

    // 5. Queue limit
    void fullQueueRejectsNewChanges();

    // 6. Recovery
    void pendingTransactionsResumeOnceAfterRestart();
    void awaitingSyncAtCloseIsCompletedAfterRestart();
    void attemptInFlightAtCloseResumesWithTheSameIds_data();
    void attemptInFlightAtCloseResumesWithTheSameIds();
};

// ---------------------------------------------------------------------------------------------
// 4. Retries and dead letters

void tst_TransactionRetries::retryableFailureIsRetriedWithBackoff()
{
    m_backend->failNextPersist(retryable("busy 1"));
    m_backend->failNextPersist(retryable("busy 2"));
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QSignalSpy completed(t, &Transaction::completed);
    QSignalSpy failed(t, &Transaction::failed);
    QTRY_COMPARE_WITH_TIMEOUT(completed.size(), 1, Timeout);
    QCOMPARE(failed.size(), 0);
    QCOMPARE(t->attempts().size(), 3);
    QCOMPARE(t->currentAttempt(), 3);
    QCOMPARE(attemptError(t, 0).message(), s("busy 1"));
    QCOMPARE(attemptError(t, 1).message(), s("busy 2"));
    QVERIFY(!attemptError(t, 2).isError());
    // Exponential: the second wait is longer than the first, whatever the jitter.
    auto wait = [&](int i) {
        return attempt(t, i).value(s("completedAt")).toDateTime().msecsTo(
                attempt(t, i).value(s("retryScheduledFor")).toDateTime());
    };
    QVERIFY(wait(0) >= 7 && wait(0) <= 13); // 10 ms ± 25 %
    QVERIFY(wait(1) >= 15 && wait(1) <= 25); // 20 ms ± 25 %
    // The same mutation id each time; applied once.
    QCOMPARE(timesPushed(mutationId(t)), 3);
    QCOMPARE(m_backend->pushedMutations().size(), 3);
    QCOMPARE(m_backend->version(s("todos"), s("a")), 1);
    QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("syncState")).toInt(), int(SyncCollection::Synced),
                              Timeout);
}

void tst_TransactionRetries::retriesExhaustedEndInFailed_data()
{
    QTest::addColumn<int>("maxRetries"); // -1: the default
    QTest::addColumn<int>("attempts");
    QTest::newRow("by default 4 retries, 5 attempts") << -1 << 5;
    QTest::newRow("2 retries, 3 attempts") << 2 << 3;
    QTest::newRow("no retries, 1 attempt") << 0 << 1;
}

void tst_TransactionRetries::retriesExhaustedEndInFailed()
{
    QFETCH(int, maxRetries);
    QFETCH(int, attempts);
    QCOMPARE(m_engine->retryPolicy()->maxRetries(), 4);
    if (maxRetries >= 0)
        m_engine->retryPolicy()->setMaxRetries(maxRetries);
    for (int i = 0; i < attempts; ++i)
        m_backend->failNextPersist(retryable("busy"));

    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QSignalSpy failed(t, &Transaction::failed);
    QSignalSpy completed(t, &Transaction::completed);
    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, Timeout);
    QCOMPARE(t->state(), Transaction::Failed);
    QCOMPARE(t->attempts().size(), attempts);
    QCOMPARE(t->currentAttempt(), attempts);
    QCOMPARE(t->error().code(), SyncError::Network);
    for (int i = 0; i < attempts - 1; ++i)
        QVERIFY(attempt(t, i).value(s("retryScheduledFor")).toDateTime().isValid());
    QVERIFY(!attempt(t, attempts - 1).value(s("retryScheduledFor")).toDateTime().isValid());
    QVERIFY(!t->nextRetryAt().isValid());
    QCOMPARE(timesPushed(mutationId(t)), attempts);
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->indexOfKey(s("a")), -1, Timeout);
    QCOMPARE(m_engine->deadLetters(), QList<Transaction *> { t });

    // It stays failed: no further attempt, no second signal.
    DO(runOnce());
    QCOMPARE(timesPushed(mutationId(t)), attempts);
    QCOMPARE(failed.size(), 1);
    QCOMPARE(completed.size(), 0);
    QVERIFY(!m_backend->contains(s("todos"), s("a")));
}

void tst_TransactionRetries::nonRetryableFailureFailsAtOnce_data()
{
    QTest::addColumn<SyncError>("error");
    QTest::addColumn<bool>("wholeRequest"); // failNextRequest instead of failNextPersist
    QTest::newRow("server validation error") << refused("title too long") << false;
    QTest::newRow("403 forbidden")
            << SyncError(SyncError::Forbidden, s("not yours")).setHttpStatus(403) << false;
    QTest::newRow("a retryable kind marked not retryable")
            << SyncError(SyncError::Network, s("give up")).setRetryable(false) << false;
    QTest::newRow("403 for the whole request")
            << SyncError(SyncError::Forbidden, s("not yours")).setHttpStatus(403) << true;
}

void tst_TransactionRetries::nonRetryableFailureFailsAtOnce()
{
    QFETCH(SyncError, error);
    QFETCH(bool, wholeRequest);
    if (wholeRequest)
        m_backend->failNextRequest(error, TestBackend::PushRequests);
    else
        m_backend->failNextPersist(error);
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QSignalSpy failed(t, &Transaction::failed);
    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, Timeout);
    QCOMPARE(t->attempts().size(), 1);
    QCOMPARE(t->currentAttempt(), 1);
    QCOMPARE(t->error().code(), error.code());
    QCOMPARE(t->error().httpStatus(), error.httpStatus());
    QVERIFY(!t->error().isRetryable());
    QVERIFY(!attempt(t, 0).value(s("retryScheduledFor")).toDateTime().isValid());
    DO(runOnce());
    QCOMPARE(t->attempts().size(), 1);
    QCOMPARE(timesPushed(mutationId(t)), wholeRequest ? 0 : 1);
    QCOMPARE(failed.size(), 1);
}

void tst_TransactionRetries::retryPolicyChangesTakeEffect()
{
    RetryPolicy *policy = m_engine->retryPolicy();
    QSignalSpy changed(policy, &RetryPolicy::changed);
    policy->setJitter(0);
    policy->setMultiplier(3);
    policy->setInitialDelayMs(40);
    policy->setMaxDelayMs(150);
    QCOMPARE(changed.size(), 4);
    for (int i = 0; i < 3; ++i)
        m_backend->failNextPersist(retryable("busy"));
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    QCOMPARE(t->attempts().size(), 4);
    QList<qint64> waits;
    for (int i = 0; i < 3; ++i) {
        waits.append(attempt(t, i).value(s("completedAt")).toDateTime().msecsTo(
                attempt(t, i).value(s("retryScheduledFor")).toDateTime()));
    }
    QCOMPARE(waits, (QList<qint64> { 40, 120, 150 })); // 40 × 3^(n-1), at most 150

    // No retries at all from now on.
    policy->setMaxRetries(0);
    m_backend->failNextPersist(retryable("busy"));
    Transaction *u = m_todos->insert(todo("b", "Tea"));
    QVERIFY(u);
    QTRY_COMPARE_WITH_TIMEOUT(u->state(), Transaction::Failed, Timeout);
    QCOMPARE(u->attempts().size(), 1);
}

void tst_TransactionRetries::offlineUsesUpNoAttempts()
{
    m_engine->retryPolicy()->setMaxRetries(0); // a counted failure would end it
    m_backend->setOffline(true);
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    StateLog states = recordStates(t);
    QSignalSpy failed(t, &Transaction::failed);
    // Two pushes while offline (the second after the run's own backoff).
    QTRY_VERIFY_WITH_TIMEOUT(m_backend->pushRequestCount() >= 2, Timeout);
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    QCOMPARE(t->state(), Transaction::Pending);
    QVERIFY(t->attempts().isEmpty());
    QCOMPARE(t->currentAttempt(), 0);
    QVERIFY(!t->nextRetryAt().isValid());
    QVERIFY(!m_engine->status()->isOnline());
    QCOMPARE(failed.size(), 0);
    QVERIFY(states->size() >= 4);
    QVERIFY(!states->contains(Transaction::Failed));
    QCOMPARE(item("a").value(s("title")).toString(), s("Milk")); // still shown
    QVERIFY(m_backend->pushedMutations().isEmpty());

    m_backend->setOffline(false);
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    QCOMPARE(failed.size(), 0);
    QCOMPARE(t->attempts().size(), 1);
    QCOMPARE(t->currentAttempt(), 1);
    QCOMPARE(m_backend->pushedMutations().size(), 1);
    QVERIFY(m_backend->contains(s("todos"), s("a")));
    QTRY_VERIFY_WITH_TIMEOUT(m_engine->status()->isOnline(), Timeout);
}

void tst_TransactionRetries::deadLetterIsRetried()
{
    m_backend->failNextPersist(refused("no"));
    QPointer<Transaction> t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    const QString id = t->id();
    const QString mutation = mutationId(t);
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Failed, Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(m_todos->indexOfKey(s("a")), -1, Timeout);
    QCOMPARE(m_engine->deadLetters(), QList<Transaction *> { t.data() });

    // Dead letters survive a restart.
    DO(runOnce());
    DO(reopen());
    QVERIFY(t.isNull());
    Transaction *dead = m_engine->transaction(id);
    QVERIFY(dead);
    QCOMPARE(dead->state(), Transaction::Failed);
    QCOMPARE(dead->error().code(), SyncError::Validation);
    QCOMPARE(m_engine->deadLetters(), QList<Transaction *> { dead });
    QCOMPARE(m_engine->status()->failedCount(), 1);
    QCOMPARE(m_todos->indexOfKey(s("a")), -1);

    // retry(): the change shows again at once and goes out again.
    QSignalSpy completed(dead, &Transaction::completed);
    QVERIFY(m_engine->retry(id));
    QCOMPARE(dead->state(), Transaction::Pending);
    QVERIFY(!dead->error().isError());
    QCOMPARE(dead->currentAttempt(), 0);
    QCOMPARE(item("a").value(s("title")).toString(), s("Milk"));
    QCOMPARE(item("a").value(s("isOptimistic")).toBool(), true);
    QVERIFY(m_engine->deadLetters().isEmpty());
    QCOMPARE(m_engine->status()->failedCount(), 0);
    QCOMPARE(m_engine->status()->pendingCount(), 1);

    QTRY_COMPARE_WITH_TIMEOUT(completed.size(), 1, Timeout);
    QCOMPARE(dead->attempts().size(), 2); // the history stays
    QCOMPARE(dead->currentAttempt(), 1);
    QCOMPARE(timesPushed(mutation), 2);
    QCOMPARE(m_backend->record(s("todos"), s("a")).value(s("title")).toString(), s("Milk"));
    QTRY_COMPARE_WITH_TIMEOUT(item("a").value(s("syncState")).toInt(), int(SyncCollection::Synced),
                              Timeout);
    QVERIFY(!m_engine->retry(id)); // not failed any more
}

void tst_TransactionRetries::deadLetterIsDiscarded()
{
    m_backend->failNextPersist(refused("no"));
    QPointer<Transaction> t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    const QString id = t->id();
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Failed, Timeout);
    QVERIFY(m_history->indexOf(id) >= 0);
    QSignalSpy removed(m_engine.get(), &SyncEngine::transactionRemoved);
    QList<QVariantMap> events;
    connect(m_engine.get(), &SyncEngine::transactionEvent, this,
            [&](const QVariantMap &e) { events.append(e); });

    QVERIFY(m_engine->discard(id));
    QCOMPARE(removed.size(), 1);
    QCOMPARE(removed.constFirst().constFirst().toString(), id);
    QCOMPARE(events.size(), 1);
    QCOMPARE(events.constFirst().value(s("type")).toString(), s("discarded"));
    QCOMPARE(events.constFirst().value(s("transactionId")).toString(), id);
    QVERIFY(m_engine->deadLetters().isEmpty());
    QCOMPARE(m_engine->status()->failedCount(), 0);
    for (Transaction *h : m_engine->transactionHistory())
        QVERIFY(h->id() != id);
    QCOMPARE(m_history->indexOf(id), -1);
    QTRY_VERIFY_WITH_TIMEOUT(t.isNull(), Timeout); // deleted later
    QVERIFY(!m_engine->discard(id));
    QVERIFY(!m_engine->retry(id));
    QCOMPARE(m_todos->indexOfKey(s("a")), -1);

    // Gone from the database too.
    DO(runOnce());
    DO(reopen());
    QVERIFY(!m_engine->transaction(id));
    QVERIFY(m_engine->transactionHistory().isEmpty());
    QVERIFY(m_engine->deadLetters().isEmpty());
    QCOMPARE(m_engine->status()->failedCount(), 0);
    QCOMPARE(m_todos->indexOfKey(s("a")), -1);
    DO(runOnce());
    QCOMPARE(m_backend->pushedMutations().size(), 1);
}

void tst_TransactionRetries::retryAndDiscardRefuseWhatIsNotADeadLetter()
{
    Transaction *done = m_todos->insert(todo("a", "Milk"));
    QVERIFY(done);
    QTRY_COMPARE_WITH_TIMEOUT(done->state(), Transaction::Completed, Timeout);
    QVERIFY(!m_engine->retry(done->id()));
    QVERIFY(!m_engine->discard(done->id()));
    QCOMPARE(done->state(), Transaction::Completed);

    m_backend->setOffline(true);
    Transaction *pending = m_todos->insert(todo("b", "Tea"));
    QVERIFY(pending);
    QVERIFY(!m_engine->retry(pending->id()));
    QVERIFY(!m_engine->discard(pending->id()));
    QCOMPARE(pending->state(), Transaction::Pending);
    QVERIFY(m_engine->transactionHistory().contains(pending));

    QVERIFY(!m_engine->retry(s("no-such-transaction")));
    QVERIFY(!m_engine->discard(s("no-such-transaction")));
    QVERIFY(!m_engine->retry(QString()));
    QVERIFY(!m_engine->discard(QString()));
}

// ---------------------------------------------------------------------------------------------
// 5. Queue limit

void tst_TransactionRetries::fullQueueRejectsNewChanges()
{
    m_backend->setOffline(true);
    QSignalSpy limitChanged(m_engine.get(), &SyncEngine::maxQueueSizeChanged);
    m_engine->setMaxQueueSize(3);
    QCOMPARE(m_engine->maxQueueSize(), 3);
    QCOMPARE(limitChanged.size(), 1);
    QList<Transaction *> accepted;
    for (const char *key : { "a", "b", "c" }) {
        Transaction *t = m_todos->insert(todo(key, key));
        QVERIFY(t);
        accepted.append(t);
    }
    QSignalSpy engineErrors(m_engine.get(), &SyncEngine::errorOccurred);
    QSignalSpy todosErrors(m_todos.get(), &SyncCollection::errorOccurred);
    QSignalSpy added(m_engine.get(), &SyncEngine::transactionAdded);

    // Full: the fourth is refused with QueueFull and nothing of it is stored.
    QVERIFY(!m_todos->insert(todo("d", "d")));
    QCOMPARE(todosErrors.size(), 1);
    QCOMPARE(todosErrors.constFirst().constFirst().value<SyncError>().code(), SyncError::QueueFull);
    QCOMPARE(engineErrors.constLast().constFirst().value<SyncError>().code(), SyncError::QueueFull);
    QVERIFY(!m_todos->update(s("a"), changes("title", s("A2"))));
    QCOMPARE(todosErrors.constLast().constFirst().value<SyncError>().code(), SyncError::QueueFull);
    Transaction *explicitOne = m_engine->begin();
    QCOMPARE(explicitOne->insert(s("projects"), QVariantMap { { s("id"), s("p1") } }), s("p1"));
    QVERIFY(!explicitOne->commit());
    QCOMPARE(explicitOne->error().code(), SyncError::QueueFull);
    QCOMPARE(added.size(), 0);
    QCOMPARE(m_todos->rowCount(), 3);
    QCOMPARE(m_todos->indexOfKey(s("d")), -1);
    QCOMPARE(item("a").value(s("title")).toString(), s("a"));
    QCOMPARE(m_projects->rowCount(), 0);
    QCOMPARE(m_engine->transactionHistory(), accepted);
    QCOMPARE(m_engine->status()->pendingCount(), 3);
    for (Transaction *t : std::as_const(accepted))
        QVERIFY(!t->isFinished());

    // Once they went out, changes are accepted again.
    m_backend->setOffline(false);
    for (Transaction *t : std::as_const(accepted))
        QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::Completed, Timeout);
    QCOMPARE(m_backend->records(s("todos")).size(), 3);
    Transaction *d = m_todos->insert(todo("d", "d"));
    QVERIFY(d);
    QTRY_COMPARE_WITH_TIMEOUT(d->state(), Transaction::Completed, Timeout);
    QCOMPARE(m_backend->pushedMutations().size(), 4);
    QVERIFY(m_backend->records(s("projects")).isEmpty());

    // Dead letters do not count.
    m_engine->setMaxQueueSize(1);
    m_backend->failNextPersist(refused("no"));
    Transaction *x = m_todos->insert(todo("x", "x"));
    QVERIFY(x);
    QTRY_COMPARE_WITH_TIMEOUT(x->state(), Transaction::Failed, Timeout);
    Transaction *y = m_todos->insert(todo("y", "y"));
    QVERIFY(y);
    QTRY_COMPARE_WITH_TIMEOUT(y->state(), Transaction::Completed, Timeout);
}

// ---------------------------------------------------------------------------------------------
// 6. Recovery

void tst_TransactionRetries::pendingTransactionsResumeOnceAfterRestart()
{
    m_backend->setOffline(true);
    QStringList ids;
    QStringList mutations;
    for (const char *key : { "a", "b" }) {
        Transaction *t = m_todos->insert(todo(key, key));
        QVERIFY(t);
        ids.append(t->id());
        mutations += mutationIds(t);
    }
    Transaction *t = m_engine->begin();
    t->insert(s("projects"), project("p1", "Home"));
    t->insert(s("todos"), todo("c", "c"));
    QVERIFY(t->commit());
    ids.append(t->id());
    mutations += mutationIds(t);
    QCOMPARE(mutations.size(), 4);
    QTRY_VERIFY_WITH_TIMEOUT(m_backend->pushRequestCount() >= 1, Timeout);
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);

    closeEngine();
    m_backend->setOffline(false);
    DO(openEngine());
    // Loaded as they were, before anything is sent.
    QCOMPARE(m_engine->transactions().size(), 3);
    for (const QString &id : std::as_const(ids)) {
        Transaction *r = m_engine->transaction(id);
        QVERIFY(r);
        QCOMPARE(r->state(), Transaction::Pending);
        QVERIFY(r->attempts().isEmpty()); // offline tries left no attempt behind
    }
    QCOMPARE(m_todos->rowCount(), 3);
    QCOMPARE(m_projects->rowCount(), 1);

    for (const QString &id : std::as_const(ids))
        QTRY_COMPARE_WITH_TIMEOUT(m_engine->transaction(id)->state(), Transaction::Completed,
                                  Timeout);
    // Each mutation reached the server exactly once, and nothing else did.
    for (const QString &m : std::as_const(mutations))
        QCOMPARE(timesPushed(m), 1);
    QCOMPARE(m_backend->pushedMutations().size(), 4);
    DO(runOnce());
    DO(runOnce());
    QCOMPARE(m_backend->pushedMutations().size(), 4);
    QCOMPARE(m_backend->records(s("todos")).size(), 3);
    QVERIFY(m_backend->contains(s("projects"), s("p1")));
    QCOMPARE(m_engine->status()->pendingCount(), 0);
}

void tst_TransactionRetries::awaitingSyncAtCloseIsCompletedAfterRestart()
{
    auto log = succeeding();
    m_todos->setAwaitSync(true);
    m_todos->setPersistHandler(handlerFor(log));
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    const QString id = t->id();
    QTRY_COMPARE_WITH_TIMEOUT(t->state(), Transaction::PersistedAwaitingSync, Timeout);
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    QCOMPARE(log->calls.size(), 1);

    DO(reopen());
    auto again = succeeding();
    m_todos->setAwaitSync(true);
    m_todos->setPersistHandler(handlerFor(again));
    // Its persist succeeded before the app closed: taken as persisted.
    Transaction *r = m_engine->transaction(id);
    QVERIFY(r);
    QCOMPARE(r->state(), Transaction::Completed);
    QVERIFY(m_engine->transactions().isEmpty());
    QCOMPARE(item("a").value(s("title")).toString(), s("Milk"));
    QCOMPARE(item("a").value(s("isOptimistic")).toBool(), false);
    DO(runOnce());
    QCOMPARE(again->calls.size(), 0); // not persisted again
    QCOMPARE(r->state(), Transaction::Completed);
    QVERIFY(m_backend->pushedMutations().isEmpty());
}

void tst_TransactionRetries::attemptInFlightAtCloseResumesWithTheSameIds_data()
{
    QTest::addColumn<bool>("destroy");
    QTest::newRow("the engine is closed and opened again") << false;
    QTest::newRow("the engine is destroyed and made again") << true;
}

void tst_TransactionRetries::attemptInFlightAtCloseResumesWithTheSameIds()
{
    QFETCH(bool, destroy);
    m_backend->setNetworkDelay(1000);
    QSignalSpy answers(m_backend.get(), &TestBackend::pushed);
    Transaction *t = m_todos->insert(todo("a", "Milk"));
    QVERIFY(t);
    const QString id = t->id();
    const QString mutation = mutationId(t);
    // The server applied it; the answer is still on its way when the app stops.
    QTRY_COMPARE_WITH_TIMEOUT(timesPushed(mutation), 1, Timeout);
    QCOMPARE(t->state(), Transaction::Persisting);
    QVERIFY(m_backend->contains(s("todos"), s("a")));
    // A later change to the item waits for it (ordered) or for the next request (parallel).
    Transaction *later = m_todos->update(s("a"), changes("title", s("Two")));
    QVERIFY(later);
    const QString laterId = later->id();
    const QString laterMutation = mutationId(later);
    QCOMPARE(later->state(), ordered() ? Transaction::Queued : Transaction::Pending);

    if (destroy) {
        closeEngine();
        DO(openEngine());
    } else {
        m_engine->close();
        QCOMPARE(m_todos->rowCount(), 0);
        QVERIFY(m_engine->open());
    }
    m_backend->setNetworkDelay(0);
    Transaction *r = m_engine->transaction(id);
    QVERIFY(r);
    QCOMPARE(r->state(), Transaction::Pending);
    QCOMPARE(r->attempts().size(), 1); // the interrupted attempt counts, closed as cancelled
    QCOMPARE(r->currentAttempt(), 1);
    QVERIFY(attempt(r, 0).value(s("completedAt")).toDateTime().isValid());
    QCOMPARE(attemptError(r, 0).code(), SyncError::Cancelled);
    QCOMPARE(item("a").value(s("title")).toString(), s("Two"));
    Transaction *r2 = m_engine->transaction(laterId);
    QVERIFY(r2);
    QVERIFY(r2->attempts().isEmpty());

    QTRY_COMPARE_WITH_TIMEOUT(r->state(), Transaction::Completed, Timeout);
    QCOMPARE(r->attempts().size(), 2);
    QCOMPARE(timesPushed(mutation), 2); // the same mutation id again ...
    QCOMPARE(m_backend->currentVersion(), 2); // ... applied once; then the later change
    QTRY_COMPARE_WITH_TIMEOUT(r2->state(), Transaction::Completed, Timeout);
    QCOMPARE(timesPushed(laterMutation), 1);
    QStringList ids;
    for (const PushMutation &m : m_backend->pushedMutations())
        ids.append(m.id);
    QCOMPARE(ids, (QStringList { mutation, mutation, laterMutation }));
    QCOMPARE(m_backend->record(s("todos"), s("a")).value(s("title")).toString(), s("Two"));
    // The first answer arrives for an engine that moved on: it changes nothing.
    QTRY_COMPARE_WITH_TIMEOUT(answers.size(), 2, Timeout);
    DO(runOnce());
    QCOMPARE(r->state(), Transaction::Completed);
    QCOMPARE(r->attempts().size(), 2);
    QCOMPARE(timesPushed(mutation), 2);
    QCOMPARE(timesPushed(laterMutation), 1);
    QCOMPARE(item("a").value(s("syncState")).toInt(), int(SyncCollection::Synced));
    QCOMPARE(item("a").value(s("title")).toString(), s("Two"));
    QCOMPARE(item("a").value(s("version")).toLongLong(), 2);
}

QTEST_GUILESS_MAIN(tst_TransactionRetries)
#include "tst_transactions_retries.moc"
