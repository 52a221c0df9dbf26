// SPDX-License-Identifier: BSD-3-Clause
// Server-assigned keys and the relation graph (I2-I5, P4), end to end through a real SyncEngine
// and its models against TestBackend, which assigns keys the way synq-server
// --server-assigned-keys does: the row keeps its place under the server's key (one dataChanged,
// never a remove and an insert), references in other collections and pending mutations follow,
// the id map survives a restart, parents go before children, and compaction never cancels a
// parent a pending change refers to.
#include "transactionsfixture.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>

using namespace TransactionTests;

class tst_Keys : public TransactionsFixture
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data() { addStrategies(); }
    void init()
    {
        setUp();
        m_backend->setServerAssignedKeys(s("projects"));
        setRelations();
    }
    void cleanup() { tearDown(); }

    void serverKeyReplacesTheClientKeyInPlace();
    void referencesAndPendingChangesFollow();
    void parentGoesBeforeItsChildren();
    void editWhileTheInsertIsInFlightGoesUnderTheServerKey();
    void theClientKeyStillNamesTheItem();
    void restartBetweenPushAndRemap();
    void compactionNeverOrphansAChild();
    void badRelationsAreRefused_data();
    void badRelationsAreRefused();
    void collectionsWithoutServerKeysAreUntouched();

private:
    // todos.projectId -> projects, required (set on each engine the fixture opens).
    void setRelations()
    {
        m_engine->setRelations({ QVariantMap { { s("from"), s("todos.projectId") },
                                               { s("to"), s("projects") },
                                               { s("required"), true } } });
    }
    void reopenWithRelations()
    {
        reopen();
        setRelations();
    }
    // Inserts a project without a key (the engine makes one) and returns that key.
    QString newProject(const char *name)
    {
        Transaction *t = m_projects->insert(QVariantMap { { s("name"), s(name) } });
        return t ? t->key() : QString();
    }
    // The server's records of a collection by their "id".
    QHash<QString, QJsonObject> onServer(const char *collection) const
    {
        QHash<QString, QJsonObject> out;
        for (const QJsonObject &r : m_backend->records(s(collection)))
            out.insert(r.value(s("id")).toString(), r);
        return out;
    }
};

void tst_Keys::serverKeyReplacesTheClientKeyInPlace()
{
    DO(m_projects->insert(project("p0", "Inbox")));
    m_backend->setServerAssignedKeys(s("projects"), false); // p0 keeps its key...
    DO(runOnce());
    m_backend->setServerAssignedKeys(s("projects")); // ...the next one gets the server's
    const QString clientKey = newProject("Garden");
    QVERIFY(!clientKey.isEmpty());
    QCOMPARE(m_projects->count(), 2);

    QSignalSpy inserted(m_projects.get(), &QAbstractItemModel::rowsInserted);
    QSignalSpy removed(m_projects.get(), &QAbstractItemModel::rowsRemoved);
    QSignalSpy reset(m_projects.get(), &QAbstractItemModel::modelReset);
    QSignalSpy changed(m_projects.get(), &QAbstractItemModel::dataChanged);
    QSignalSpy engineRemapped(m_engine.get(), &SyncEngine::idRemapped);
    QSignalSpy remapped(m_projects.get(), &SyncCollection::idRemapped);
    QStringList keysSeen; // every key row 1 shows at any change: never two rows at once
    connect(m_projects.get(), &QAbstractItemModel::dataChanged, this, [&] {
        QCOMPARE(m_projects->count(), 2);
        keysSeen.append(m_projects->get(1).value(s("key")).toString());
    });
    DO(runOnce());

    QCOMPARE(engineRemapped.size(), 1);
    const QString serverKey = engineRemapped.constFirst().at(2).toString();
    QCOMPARE(engineRemapped.constFirst().at(0).toString(), s("projects"));
    QCOMPARE(engineRemapped.constFirst().at(1).toString(), clientKey);
    QVERIFY(serverKey.startsWith(QLatin1Char('s')));
    QCOMPARE(remapped.size(), 1);
    QCOMPARE(remapped.constFirst().at(0).toString(), clientKey);
    QCOMPARE(remapped.constFirst().at(1).toString(), serverKey);

    QCOMPARE(inserted.size(), 0);
    QCOMPARE(removed.size(), 0);
    QCOMPARE(reset.size(), 0);
    QCOMPARE(m_projects->count(), 2);
    const QVariantMap row = m_projects->get(1);
    QCOMPARE(row.value(s("key")).toString(), serverKey);
    QCOMPARE(row.value(s("id")).toString(), serverKey);
    QCOMPARE(row.value(s("name")).toString(), s("Garden"));
    QCOMPARE(row.value(s("syncState")).toInt(), int(SyncCollection::Synced));
    QCOMPARE(m_projects->indexOfKey(serverKey), 1);
    // The key changed in one dataChanged that names the key role among its roles.
    int withKeyRole = 0;
    for (const QList<QVariant> &signal : std::as_const(changed)) {
        const auto roles = signal.at(2).value<QList<int>>();
        QCOMPARE(signal.at(0).toModelIndex().row(), 1);
        withKeyRole += roles.contains(SyncCollection::KeyRole) ? 1 : 0;
    }
    QCOMPARE(withKeyRole, 1);
    QVERIFY(!keysSeen.isEmpty());
    QCOMPARE(keysSeen.constLast(), serverKey);

    // A pull brings the server's record under its key: still one row.
    DO(runOnce());
    QCOMPARE(m_projects->count(), 2);
    QCOMPARE(m_projects->get(1).value(s("key")).toString(), serverKey);
    QCOMPARE(inserted.size(), 0);
    QCOMPARE(removed.size(), 0);
    QVERIFY(!m_backend->contains(s("projects"), clientKey));
    QCOMPARE(onServer("projects").value(serverKey).value(s("name")).toString(), s("Garden"));

    // The row and the map survive a restart.
    DO(reopen());
    QCOMPARE(m_projects->count(), 2);
    QCOMPARE(m_projects->get(1).value(s("key")).toString(), serverKey);
    QCOMPARE(m_engine->status()->pendingCount(), 0);
}

void tst_Keys::referencesAndPendingChangesFollow()
{
    // Offline: a project, a todo in it, and a later edit of the todo that names it again.
    m_backend->setOffline(true);
    const QString clientKey = newProject("Garden");
    QVERIFY(m_todos->insert(QVariantMap { { s("id"), s("t1") },
                                          { s("title"), s("Dig") },
                                          { s("projectId"), clientKey } }));
    QVERIFY(m_todos->update(s("t1"), QVariantMap { { s("note"), s("in ") + clientKey },
                                                   { s("links"), QVariantList { clientKey } } }));
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    m_backend->setOffline(false);
    QSignalSpy todoChanged(m_todos.get(), &QAbstractItemModel::dataChanged);
    DO(runOnce());
    QTRY_COMPARE_WITH_TIMEOUT(m_engine->status()->pendingCount(), 0, Timeout);

    const QString serverKey = m_projects->get(0).value(s("key")).toString();
    QVERIFY(serverKey != clientKey);
    // The local todo refers to the server key...
    const QVariantMap local = m_todos->getByKey(s("t1"));
    QCOMPARE(local.value(s("projectId")).toString(), serverKey);
    QCOMPARE(m_todos->count(), 1);
    QVERIFY(!todoChanged.isEmpty());
    // ...and so does everything the server received for it, at any depth.
    const QJsonObject todo = m_backend->record(s("todos"), s("t1"));
    QCOMPARE(todo.value(s("projectId")).toString(), serverKey);
    QCOMPARE(todo.value(s("note")).toString(), s("in ") + clientKey); // not a key: kept
    QCOMPARE(todo.value(s("links")).toArray(), QJsonArray { serverKey });
    for (const PushMutation &m : m_backend->pushedMutations()) {
        if (m.collection == s("todos"))
            QVERIFY2(!QJsonDocument(m.data).toJson().contains(
                             (QLatin1Char('"') + clientKey + QLatin1Char('"')).toUtf8()),
                     qPrintable(QString::fromUtf8(QJsonDocument(m.data).toJson())));
    }
    // The transactions show what went out: the server key.
    DO(reopen());
    QCOMPARE(m_todos->getByKey(s("t1")).value(s("projectId")).toString(), serverKey);
}

void tst_Keys::parentGoesBeforeItsChildren()
{
    // One sync, parent and child committed together: the child waits for the parent's
    // answer and goes in a later push, under the server key.
    m_backend->setOffline(true);
    const QString clientKey = newProject("Garden");
    QVERIFY(m_todos->insert(QVariantMap { { s("id"), s("t1") },
                                          { s("title"), s("Dig") },
                                          { s("projectId"), clientKey } }));
    QVERIFY(m_todos->insert(QVariantMap { { s("id"), s("t2") }, { s("title"), s("Loose") } }));
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    m_backend->setOffline(false);
    const int pushesBefore = m_backend->pushRequestCount();
    DO(runOnce());
    QTRY_COMPARE_WITH_TIMEOUT(m_engine->status()->pendingCount(), 0, Timeout);
    QVERIFY(m_backend->pushRequestCount() - pushesBefore >= 2);
    const QList<PushMutation> pushed = m_backend->pushedMutations();
    qsizetype parentAt = -1;
    qsizetype childAt = -1;
    for (qsizetype i = 0; i < pushed.size(); ++i) {
        if (pushed.at(i).collection == s("projects"))
            parentAt = i;
        if (pushed.at(i).key == s("t1"))
            childAt = i;
    }
    QVERIFY(parentAt >= 0 && childAt > parentAt);
    const QString serverKey = m_projects->get(0).value(s("key")).toString();
    QCOMPARE(pushed.at(childAt).data.value(s("projectId")).toString(), serverKey);
}

void tst_Keys::editWhileTheInsertIsInFlightGoesUnderTheServerKey()
{
    const QString clientKey = newProject("Garden");
    m_backend->setNetworkDelay(SlowNetworkMs);
    QSignalSpy finished(m_engine.get(), &SyncEngine::syncFinished);
    m_engine->syncNow();
    QTRY_COMPARE_WITH_TIMEOUT(m_backend->pushRequestCount(), 1, Timeout);
    QCOMPARE(m_projects->get(0).value(s("syncState")).toInt(), int(SyncCollection::Syncing));
    // The insert is on the server, its answer on its way: the user renames the project.
    QPointer<Transaction> rename =
            m_projects->update(clientKey, QVariantMap { { s("name"), s("Allotment") } });
    QVERIFY(rename);
    QCOMPARE(m_projects->get(0).value(s("name")).toString(), s("Allotment"));
    QTRY_VERIFY_WITH_TIMEOUT(!finished.isEmpty(), Timeout);
    m_backend->setNetworkDelay(0);
    DO(runOnce());
    QTRY_VERIFY_WITH_TIMEOUT(rename && rename->state() == Transaction::Completed, Timeout);

    const QString serverKey = m_projects->get(0).value(s("key")).toString();
    QVERIFY(serverKey != clientKey);
    QCOMPARE(rename->key(), serverKey);
    QCOMPARE(m_backend->records(s("projects")).size(), 1);
    QCOMPARE(onServer("projects").value(serverKey).value(s("name")).toString(), s("Allotment"));
    QCOMPARE(m_projects->count(), 1);
    QCOMPARE(m_projects->get(0).value(s("name")).toString(), s("Allotment"));
    QCOMPARE(m_projects->get(0).value(s("syncState")).toInt(), int(SyncCollection::Synced));
}

void tst_Keys::theClientKeyStillNamesTheItem()
{
    const QString clientKey = newProject("Garden");
    DO(runOnce());
    const QString serverKey = m_projects->get(0).value(s("key")).toString();
    QVERIFY(serverKey != clientKey);
    // A key kept from before the remap (a QML delegate's, a saved one) still works, across a
    // restart too: updates, references in new rows and removals go to the server key.
    DO(reopenWithRelations());
    QVERIFY(m_projects->update(clientKey, QVariantMap { { s("name"), s("Allotment") } }));
    QVERIFY(m_todos->insert(QVariantMap { { s("id"), s("t1") }, { s("projectId"), clientKey } }));
    QCOMPARE(m_todos->getByKey(s("t1")).value(s("projectId")).toString(), serverKey);
    DO(runOnce());
    QTRY_COMPARE_WITH_TIMEOUT(m_engine->status()->pendingCount(), 0, Timeout);
    QCOMPARE(onServer("projects").value(serverKey).value(s("name")).toString(), s("Allotment"));
    QCOMPARE(m_backend->record(s("todos"), s("t1")).value(s("projectId")).toString(), serverKey);
    QVERIFY(m_projects->remove(clientKey));
    QCOMPARE(m_projects->count(), 0);
    DO(runOnce());
    QTRY_COMPARE_WITH_TIMEOUT(m_engine->status()->pendingCount(), 0, Timeout);
    QVERIFY(!m_backend->contains(s("projects"), serverKey));
}

void tst_Keys::restartBetweenPushAndRemap()
{
    const QString clientKey = newProject("Garden");
    QVERIFY(m_todos->insert(QVariantMap { { s("id"), s("t1") }, { s("projectId"), clientKey } }));
    m_backend->setNetworkDelay(SlowNetworkMs);
    m_engine->syncNow();
    // The server applied the insert; the app dies before the answer arrives.
    QTRY_VERIFY_WITH_TIMEOUT(!m_backend->records(s("projects")).isEmpty(), Timeout);
    DO(closeEngine());
    m_backend->setNetworkDelay(0);
    DO(openEngine());
    setRelations();
    QCOMPARE(m_projects->get(0).value(s("key")).toString(), clientKey);
    DO(runOnce());
    QTRY_COMPARE_WITH_TIMEOUT(m_engine->status()->pendingCount(), 0, Timeout);
    // Sent again with the same mutation id, answered with the stored result: one project.
    QCOMPARE(m_backend->records(s("projects")).size(), 1);
    const QString serverKey = m_projects->get(0).value(s("key")).toString();
    QCOMPARE(serverKey, m_backend->records(s("projects")).constFirst().value(s("id")).toString());
    QCOMPARE(m_projects->count(), 1);
    QCOMPARE(m_backend->record(s("todos"), s("t1")).value(s("projectId")).toString(), serverKey);
    QCOMPARE(m_todos->getByKey(s("t1")).value(s("projectId")).toString(), serverKey);
}

void tst_Keys::compactionNeverOrphansAChild()
{
    // Offline: a project is made, a todo refers to it, the project is removed again. Without
    // the todo, the insert and removal would cancel out; with it, both go, in order.
    m_backend->setServerAssignedKeys(s("projects"), false);
    m_backend->setOffline(true);
    QVERIFY(m_projects->insert(project("p1", "Garden")));
    QVERIFY(m_todos->insert(QVariantMap { { s("id"), s("t1") }, { s("projectId"), s("p1") } }));
    QVERIFY(m_projects->remove(s("p1")));
    QVERIFY(m_projects->insert(project("p2", "Shed")));
    QVERIFY(m_projects->remove(s("p2"))); // nothing refers to p2: cancelled
    QTRY_VERIFY_WITH_TIMEOUT(!m_engine->status()->isSyncing(), Timeout);
    m_backend->setOffline(false);
    DO(runOnce());
    QTRY_COMPARE_WITH_TIMEOUT(m_engine->status()->pendingCount(), 0, Timeout);
    QStringList sent;
    for (const PushMutation &m : m_backend->pushedMutations())
        sent.append(m.collection + QLatin1Char('/') + m.key);
    QCOMPARE(sent, (QStringList { s("projects/p1"), s("todos/t1"), s("projects/p1") }));
}

void tst_Keys::badRelationsAreRefused_data()
{
    QTest::addColumn<QVariantList>("relations");
    const auto entry = [](const QVariant &from, const QVariant &to) {
        return QVariantMap { { s("from"), from }, { s("to"), to } };
    };
    QTest::newRow("no field") << QVariantList { entry(s("todos"), s("projects")) };
    QTest::newRow("bad name") << QVariantList { entry(s("todos.project id"), s("projects")) };
    QTest::newRow("bad target") << QVariantList { entry(s("todos.projectId"), s("a;b")) };
    QTest::newRow("not a map") << QVariantList { s("todos.projectId") };
    QTest::newRow("unknown entry")
            << QVariantList { QVariantMap { { s("from"), s("todos.projectId") },
                                            { s("to"), s("projects") },
                                            { s("cascade"), true } } };
    QTest::newRow("twice") << QVariantList { entry(s("todos.projectId"), s("projects")),
                                             entry(s("todos.projectId"), s("todos")) };
}

void tst_Keys::badRelationsAreRefused()
{
    QFETCH(QVariantList, relations);
    const QVariantList before = m_engine->relations();
    QSignalSpy errors(m_engine.get(), &SyncEngine::errorOccurred);
    QSignalSpy changed(m_engine.get(), &SyncEngine::relationsChanged);
    m_engine->setRelations(relations);
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.constFirst().constFirst().value<SyncError>().code(), SyncError::Validation);
    QCOMPARE(changed.size(), 0);
    QCOMPARE(m_engine->relations(), before);
    QCOMPARE(before.size(), 1);
    QCOMPARE(before.constFirst().toMap().value(s("from")).toString(), s("todos.projectId"));
    QCOMPARE(before.constFirst().toMap().value(s("required")).toBool(), true);
}

void tst_Keys::collectionsWithoutServerKeysAreUntouched()
{
    QSignalSpy remapped(m_engine.get(), &SyncEngine::idRemapped);
    QVERIFY(m_todos->insert(todo("t1", "Milk")));
    DO(runOnce());
    QCOMPARE(remapped.size(), 0);
    QCOMPARE(m_todos->get(0).value(s("key")).toString(), s("t1"));
    QVERIFY(m_backend->contains(s("todos"), s("t1")));
}

QTEST_GUILESS_MAIN(tst_Keys)
#include "tst_keys.moc"
