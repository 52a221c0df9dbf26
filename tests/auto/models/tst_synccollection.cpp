// SPDX-License-Identifier: BSD-3-Clause
#include <synq/synccollection.h>
#include <synq/syncengine.h>
#include <synq/keygenerator.h>

#include <QtCore/QTemporaryDir>
#include <QtCore/QTranslator>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include "modelrecorder.h"

#include <memory>

using namespace Synq;
using SynqTest::ModelRecorder;
using namespace Qt::StringLiterals;

class tst_SyncCollection : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void rolesAreFieldsPlusMetaRoles();
    void insertShowsRowBeforeReturning();
    void insertWithOwnKeyUsesIt();
    void updateSignalsExactlyTheChangedRoles_data();
    void updateSignalsExactlyTheChangedRoles();
    void secondUpdateOnlySignalsFieldRoles();
    void removeSignalsRowsRemoved();
    void insertManyIsOneTransactionAndOneSignal();
    void updateManyAndRemoveMany();
    void bulkCallIsAllOrNothing_data();
    void bulkCallIsAllOrNothing();
    void setDataRecordsAnUpdate();
    void setDataWithSameValueRecordsNothing();
    void setDataOnMetaRoleIsRefused();
    void twoCollectionsShareOneState();
    void keysAreTimeOrderedUuids();
    void readsByKeyAndRow();
    void badInputIsRefusedWithAnError_data();
    void badInputIsRefusedWithAnError();
    void readOnlyCollectionRefusesChanges();
    void invalidFieldNamesAreRefused_data();
    void invalidFieldNamesAreRefused();
    void collectionFillsWhenEngineOpensLater();
    void rowsStayInInsertionOrderAcrossReopen();
    void largeCollectionLoadsItsRowsAsAsked_data();
    void largeCollectionLoadsItsRowsAsAsked();
    void pendingCountCountsTransactions();
    void scopeSelectsThePartition();
    void errorMessagesAreTranslated();

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<SyncEngine> m_engine;
    std::unique_ptr<SyncCollection> m_todos;
    std::unique_ptr<QAbstractItemModelTester> m_tester;

    SyncCollection *makeCollection(const QStringList &fields = { QStringLiteral("title"),
                                                                 QStringLiteral("done") })
    {
        auto *c = new SyncCollection(m_engine.get(), QStringLiteral("todos"), fields, this);
        new QAbstractItemModelTester(c, QAbstractItemModelTester::FailureReportingMode::QtTest, c);
        return c;
    }
    int role(const QAbstractItemModel *model, const char *name) const
    {
        return model->roleNames().key(QByteArray(name), -1);
    }
};

void tst_SyncCollection::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_engine = std::make_unique<SyncEngine>();
    m_engine->setDatabasePath(m_dir->filePath(QStringLiteral("test.sqlite")));
    QVERIFY(m_engine->open());
    m_todos.reset(new SyncCollection(m_engine.get(), QStringLiteral("todos"),
                                     { QStringLiteral("title"), QStringLiteral("done") }));
    m_tester = std::make_unique<QAbstractItemModelTester>(
            m_todos.get(), QAbstractItemModelTester::FailureReportingMode::QtTest);
}

void tst_SyncCollection::cleanup()
{
    m_tester.reset();
    m_todos.reset();
    m_engine.reset();
    m_dir.reset();
}

void tst_SyncCollection::rolesAreFieldsPlusMetaRoles()
{
    const auto names = m_todos->roleNames();
    for (const char *name : { "title", "done", "key", "syncState", "isOptimistic",
                              "pendingTransactions", "lastError", "version" })
        QVERIFY2(names.key(QByteArray(name), -1) >= 0, name);
    QCOMPARE(names.key("title"), int(SyncCollection::FirstFieldRole));
    QCOMPARE(names.key("key"), int(SyncCollection::KeyRole));
}

void tst_SyncCollection::insertShowsRowBeforeReturning()
{
    ModelRecorder rec(m_todos.get());
    QSignalSpy count(m_todos.get(), &SyncCollection::countChanged);
    QSignalSpy pending(m_todos.get(), &SyncCollection::pendingCountChanged);

    // The row is visible inside the rowsInserted handler, i.e. before insert() returns.
    QVariantMap seen;
    connect(m_todos.get(), &QAbstractItemModel::rowsInserted, this,
            [&](const QModelIndex &, int first) { seen = m_todos->get(first); });
    Transaction *t = m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("Milk") },
                                                  { QStringLiteral("done"), false } });
    QVERIFY(t);
    QCOMPARE(seen.value(QStringLiteral("title")).toString(), QStringLiteral("Milk"));
    QCOMPARE(rec.take(), QStringList { QStringLiteral("inserted 0-0") });
    QCOMPARE(count.size(), 1);
    QCOMPARE(pending.size(), 1);
    QCOMPARE(m_todos->count(), 1);
    QCOMPARE(m_todos->pendingCount(), 1);

    const QModelIndex idx = m_todos->index(0);
    QCOMPARE(idx.data(role(m_todos.get(), "title")).toString(), QStringLiteral("Milk"));
    QCOMPARE(idx.data(role(m_todos.get(), "done")).toBool(), false);
    QCOMPARE(idx.data(SyncCollection::SyncStateRole).toInt(), int(SyncCollection::Pending));
    QCOMPARE(idx.data(SyncCollection::IsOptimisticRole).toBool(), true);
    QCOMPARE(idx.data(SyncCollection::PendingTransactionsRole).toInt(), 1);
    QCOMPARE(idx.data(SyncCollection::VersionRole).toLongLong(), 0);
    QCOMPARE(idx.data(SyncCollection::KeyRole).toString(), t->key());
    QCOMPARE(idx.data(SyncCollection::LastErrorRole).value<SyncError>().code(), SyncError::None);

    QCOMPARE(t->state(), Transaction::Pending);
    QCOMPARE(t->mutationCount(), 1);
    const QVariantMap m = t->mutations().constFirst().toMap();
    QCOMPARE(m.value(QStringLiteral("type")).toString(), QStringLiteral("insert"));
    QCOMPARE(m.value(QStringLiteral("collection")).toString(), QStringLiteral("todos"));
    QCOMPARE(m.value(QStringLiteral("modified")).toMap().value(QStringLiteral("title")).toString(),
             QStringLiteral("Milk"));
    QVERIFY(KeyGenerator::isKey(m.value(QStringLiteral("mutationId")).toString()));
    QCOMPARE(m_engine->status()->pendingCount(), 1);
}

void tst_SyncCollection::insertWithOwnKeyUsesIt()
{
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("id"), 42 },
                                         { QStringLiteral("title"), QStringLiteral("a") } }));
    QCOMPARE(m_todos->indexOfKey(42), 0);
    QCOMPARE(m_todos->indexOfKey(QStringLiteral("42")), 0);
    QCOMPARE(m_todos->get(0).value(QStringLiteral("id")).toInt(), 42);
    // The same key again is refused.
    QSignalSpy errors(m_todos.get(), &SyncCollection::errorOccurred);
    QVERIFY(!m_todos->insert(QVariantMap { { QStringLiteral("id"), QStringLiteral("42") } }));
    QCOMPARE(errors.size(), 1);
    QCOMPARE(m_todos->count(), 1);
}

void tst_SyncCollection::updateSignalsExactlyTheChangedRoles_data()
{
    QTest::addColumn<QVariantMap>("changes");
    QTest::addColumn<QString>("expected");
    // display follows the first field, title.
    QTest::addRow("changing the title names title, display and the pending count")
            << QVariantMap { { QStringLiteral("title"), QStringLiteral("Bread") } }
            << QStringLiteral("changed 0-0 display,pendingTransactions,title");
    QTest::addRow("changing both fields names both, display and the pending count")
            << QVariantMap { { QStringLiteral("title"), QStringLiteral("Bread") },
                             { QStringLiteral("done"), true } }
            << QStringLiteral("changed 0-0 display,done,pendingTransactions,title");
    QTest::addRow("an undeclared field names no field role")
            << QVariantMap { { QStringLiteral("note"), QStringLiteral("x") } }
            << QStringLiteral("changed 0-0 pendingTransactions");
}

void tst_SyncCollection::updateSignalsExactlyTheChangedRoles()
{
    QFETCH(QVariantMap, changes);
    QFETCH(QString, expected);
    Transaction *t = m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("Milk") },
                                                  { QStringLiteral("done"), false } });
    QVERIFY(t);
    ModelRecorder rec(m_todos.get());
    QVERIFY(m_todos->update(t->key(), changes));
    QCOMPARE(rec.take(), QStringList { expected });
    for (auto it = changes.cbegin(); it != changes.cend(); ++it)
        QCOMPARE(m_todos->get(0).value(it.key()), it.value());
    QCOMPARE(m_todos->index(0).data(SyncCollection::PendingTransactionsRole).toInt(), 2);
    QCOMPARE(m_todos->pendingCount(), 2);
}

void tst_SyncCollection::secondUpdateOnlySignalsFieldRoles()
{
    // A row that is already pending and optimistic only changes its field and its count.
    Transaction *t = m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("a") } });
    QVERIFY(t);
    ModelRecorder rec(m_todos.get());
    QVERIFY(m_todos->update(t->key(), QVariantMap { { QStringLiteral("done"), true } }));
    QCOMPARE(rec.take(), QStringList { QStringLiteral("changed 0-0 done,pendingTransactions") });
    // Setting a field to the value it has is a mutation, but no field role changes.
    QVERIFY(m_todos->update(t->key(), QVariantMap { { QStringLiteral("done"), true } }));
    QCOMPARE(rec.take(), QStringList { QStringLiteral("changed 0-0 pendingTransactions") });
}

void tst_SyncCollection::removeSignalsRowsRemoved()
{
    Transaction *a = m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("a") } });
    Transaction *b = m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("b") } });
    QVERIFY(a && b);
    ModelRecorder rec(m_todos.get());
    Transaction *r = m_todos->remove(a->key());
    QVERIFY(r);
    QCOMPARE(rec.take(), QStringList { QStringLiteral("removed 0-0") });
    QCOMPARE(m_todos->count(), 1);
    QCOMPARE(m_todos->indexOfKey(a->key()), -1);
    QCOMPARE(m_todos->indexOfKey(b->key()), 0);
    const QVariantMap m = r->mutations().constFirst().toMap();
    QCOMPARE(m.value(QStringLiteral("type")).toString(), QStringLiteral("remove"));
    QCOMPARE(m.value(QStringLiteral("original")).toMap().value(QStringLiteral("title")).toString(),
             QStringLiteral("a"));
}

void tst_SyncCollection::insertManyIsOneTransactionAndOneSignal()
{
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("first") } }));
    QVariantList items;
    for (int i = 0; i < 100; ++i)
        items << QVariantMap { { QStringLiteral("title"), QStringLiteral("item %1").arg(i) } };
    ModelRecorder rec(m_todos.get());
    Transaction *t = m_todos->insertMany(items);
    QVERIFY(t);
    QCOMPARE(rec.take(), QStringList { QStringLiteral("inserted 1-100") });
    QCOMPARE(t->mutationCount(), 100);
    QCOMPARE(m_todos->count(), 101);
    QCOMPARE(m_todos->get(100).value(QStringLiteral("title")).toString(), QStringLiteral("item 99"));
    QCOMPARE(m_todos->pendingCount(), 2);
    QCOMPARE(m_engine->status()->pendingCount(), 2);
}

void tst_SyncCollection::updateManyAndRemoveMany()
{
    QVariantList items;
    for (int i = 0; i < 6; ++i)
        items << QVariantMap { { QStringLiteral("id"), QStringLiteral("k%1").arg(i) },
                               { QStringLiteral("title"), QStringLiteral("t%1").arg(i) } };
    QVERIFY(m_todos->insertMany(items));
    ModelRecorder rec(m_todos.get());
    Transaction *u = m_todos->updateMany(QVariantList {
            QVariantMap { { QStringLiteral("key"), QStringLiteral("k1") },
                          { QStringLiteral("changes"), QVariantMap { { QStringLiteral("done"), true } } } },
            QVariantMap { { QStringLiteral("key"), QStringLiteral("k4") },
                          { QStringLiteral("changes"), QVariantMap { { QStringLiteral("done"), true } } } } });
    QVERIFY(u);
    QCOMPARE(u->mutationCount(), 2);
    QCOMPARE(rec.take(), (QStringList { QStringLiteral("changed 1-1 done,pendingTransactions"),
                                        QStringLiteral("changed 4-4 done,pendingTransactions") }));
    // Removing k1, k2, k3 and k5: two contiguous runs, removed bottom-up.
    Transaction *r = m_todos->removeMany(QStringList { QStringLiteral("k2"), QStringLiteral("k1"),
                                                       QStringLiteral("k5"), QStringLiteral("k3") });
    QVERIFY(r);
    QCOMPARE(r->mutationCount(), 4);
    QCOMPARE(rec.take(), (QStringList { QStringLiteral("removed 5-5"), QStringLiteral("removed 1-3") }));
    QCOMPARE(m_todos->count(), 2);
    QCOMPARE(m_todos->get(0).value(QStringLiteral("id")).toString(), QStringLiteral("k0"));
    QCOMPARE(m_todos->get(1).value(QStringLiteral("id")).toString(), QStringLiteral("k4"));
    QCOMPARE(m_todos->get(1).value(QStringLiteral("done")).toBool(), true);
}

void tst_SyncCollection::bulkCallIsAllOrNothing_data()
{
    QTest::addColumn<QString>("call");
    QTest::addRow("insertMany with one non-object entry stores nothing") << QStringLiteral("insertMany");
    QTest::addRow("insertMany with a duplicate key stores nothing") << QStringLiteral("insertManyDup");
    QTest::addRow("updateMany with one unknown key stores nothing") << QStringLiteral("updateMany");
    QTest::addRow("removeMany with one unknown key stores nothing") << QStringLiteral("removeMany");
}

void tst_SyncCollection::bulkCallIsAllOrNothing()
{
    QFETCH(QString, call);
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("id"), QStringLiteral("a") },
                                         { QStringLiteral("title"), QStringLiteral("A") } }));
    ModelRecorder rec(m_todos.get());
    QSignalSpy errors(m_todos.get(), &SyncCollection::errorOccurred);
    QSignalSpy engineErrors(m_engine.get(), &SyncEngine::errorOccurred);
    Transaction *t = nullptr;
    if (call == QLatin1String("insertMany")) {
        t = m_todos->insertMany(QVariantList { QVariantMap { { QStringLiteral("title"), QStringLiteral("x") } }, 7 });
    } else if (call == QLatin1String("insertManyDup")) {
        t = m_todos->insertMany(QVariantList {
                QVariantMap { { QStringLiteral("id"), QStringLiteral("n") } },
                QVariantMap { { QStringLiteral("id"), QStringLiteral("n") } } });
    } else if (call == QLatin1String("updateMany")) {
        t = m_todos->updateMany(QVariantList {
                QVariantMap { { QStringLiteral("key"), QStringLiteral("a") },
                              { QStringLiteral("changes"), QVariantMap { { QStringLiteral("done"), true } } } },
                QVariantMap { { QStringLiteral("key"), QStringLiteral("nope") },
                              { QStringLiteral("changes"), QVariantMap { { QStringLiteral("done"), true } } } } });
    } else {
        t = m_todos->removeMany(QStringList { QStringLiteral("a"), QStringLiteral("nope") });
    }
    QVERIFY(!t);
    QCOMPARE(errors.size(), 1);
    QCOMPARE(engineErrors.size(), 1);
    QCOMPARE(errors.constFirst().constFirst().value<SyncError>().code(), SyncError::Validation);
    QVERIFY(rec.take().isEmpty());
    QCOMPARE(m_todos->count(), 1);
    QCOMPARE(m_todos->get(0).value(QStringLiteral("done")), QVariant());
    QCOMPARE(m_todos->pendingCount(), 1);
    QCOMPARE(m_engine->transactions().size(), 1);

    // And nothing of it reached the database: a fresh engine sees the same.
    m_tester.reset();
    m_todos.reset();
    m_engine.reset();
    SyncEngine again;
    again.setDatabasePath(m_dir->filePath(QStringLiteral("test.sqlite")));
    QVERIFY(again.open());
    SyncCollection c(&again, QStringLiteral("todos"), { QStringLiteral("title") });
    QCOMPARE(c.count(), 1);
    QCOMPARE(again.transactions().size(), 1);
}

void tst_SyncCollection::setDataRecordsAnUpdate()
{
    Transaction *t = m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("a") } });
    QVERIFY(t);
    QVERIFY(m_todos->flags(m_todos->index(0)) & Qt::ItemIsEditable);
    ModelRecorder rec(m_todos.get());
    QVERIFY(m_todos->setData(m_todos->index(0), true, role(m_todos.get(), "done")));
    QCOMPARE(rec.take(), QStringList { QStringLiteral("changed 0-0 done,pendingTransactions") });
    QCOMPARE(m_todos->index(0).data(role(m_todos.get(), "done")).toBool(), true);
    const QList<Transaction *> all = m_engine->transactions();
    QCOMPARE(all.size(), 2);
    const QVariantMap m = all.last()->mutations().constFirst().toMap();
    QCOMPARE(m.value(QStringLiteral("type")).toString(), QStringLiteral("update"));
    QCOMPARE(m.value(QStringLiteral("changes")).toMap(), (QVariantMap { { QStringLiteral("done"), true } }));
}

void tst_SyncCollection::setDataWithSameValueRecordsNothing()
{
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("a") } }));
    ModelRecorder rec(m_todos.get());
    QVERIFY(m_todos->setData(m_todos->index(0), QStringLiteral("a"), role(m_todos.get(), "title")));
    QVERIFY(rec.take().isEmpty());
    QCOMPARE(m_engine->transactions().size(), 1);
}

void tst_SyncCollection::setDataOnMetaRoleIsRefused()
{
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("a") } }));
    QVERIFY(!m_todos->setData(m_todos->index(0), 5, SyncCollection::VersionRole));
    QVERIFY(!m_todos->setData(m_todos->index(0), QStringLiteral("x"), SyncCollection::KeyRole));
    QCOMPARE(m_engine->transactions().size(), 1);
}

void tst_SyncCollection::twoCollectionsShareOneState()
{
    SyncCollection *other = makeCollection({ QStringLiteral("done") });
    ModelRecorder rec(other);
    Transaction *t = m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("a") } });
    QVERIFY(t);
    QCOMPARE(rec.take(), QStringList { QStringLiteral("inserted 0-0") });
    QCOMPARE(other->count(), 1);
    QCOMPARE(other->get(0).value(QStringLiteral("title")).toString(), QStringLiteral("a"));

    QVERIFY(other->update(t->key(), QVariantMap { { QStringLiteral("done"), true } }));
    QCOMPARE(m_todos->get(0).value(QStringLiteral("done")).toBool(), true);
    // other declares only "done"; a title change names no field role there.
    QVERIFY(m_todos->update(t->key(), QVariantMap { { QStringLiteral("title"), QStringLiteral("b") } }));
    QCOMPARE(rec.take(), (QStringList { QStringLiteral("changed 0-0 display,done,pendingTransactions"),
                                        QStringLiteral("changed 0-0 pendingTransactions") }));
    QVERIFY(other->remove(t->key()));
    QCOMPARE(m_todos->count(), 0);
    QCOMPARE(m_todos->pendingCount(), other->pendingCount());
}

void tst_SyncCollection::keysAreTimeOrderedUuids()
{
    QStringList keys;
    for (int i = 0; i < 50; ++i) {
        Transaction *t = m_todos->insert(QVariantMap { { QStringLiteral("title"), i } });
        QVERIFY(t);
        QVERIFY(KeyGenerator::isKey(t->key()));
        keys << t->key();
    }
    QStringList sorted = keys;
    sorted.sort();
    QCOMPARE(keys, sorted);
    for (int i = 0; i < keys.size(); ++i)
        QCOMPARE(m_todos->get(i).value(QStringLiteral("key")).toString(), keys.at(i));
}

void tst_SyncCollection::readsByKeyAndRow()
{
    Transaction *t = m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("a") },
                                                  { QStringLiteral("extra"), QVariantList { 1, 2 } } });
    QVERIFY(t);
    const QVariantMap row = m_todos->getByKey(t->key());
    QCOMPARE(row.value(QStringLiteral("extra")).toList(), (QVariantList { 1, 2 }));
    QCOMPARE(row.value(QStringLiteral("key")).toString(), t->key());
    QCOMPARE(row.value(QStringLiteral("id")).toString(), t->key());
    QCOMPARE(row.value(QStringLiteral("syncState")).toInt(), int(SyncCollection::Pending));
    QCOMPARE(m_todos->get(0), row);
    QVERIFY(m_todos->get(1).isEmpty());
    QVERIFY(m_todos->get(-1).isEmpty());
    QVERIFY(m_todos->getByKey(QStringLiteral("missing")).isEmpty());
    QCOMPARE(m_todos->indexOfKey(QStringLiteral("missing")), -1);
    QCOMPARE(m_todos->indexOfKey(QVariant()), -1);
}

void tst_SyncCollection::badInputIsRefusedWithAnError_data()
{
    QTest::addColumn<QString>("call");
    QTest::addColumn<QVariant>("arg");
    QTest::addRow("inserting a number") << QStringLiteral("insert") << QVariant(42);
    QTest::addRow("inserting a list") << QStringLiteral("insert") << QVariant(QVariantList { 1 });
    QTest::addRow("inserting nothing") << QStringLiteral("insert") << QVariant();
    QTest::addRow("inserting a point, which has no JSON form")
            << QStringLiteral("insert")
            << QVariant(QVariantMap { { QStringLiteral("where"), QPoint(1, 2) } });
    QTest::addRow("inserting NaN") << QStringLiteral("insert")
                                   << QVariant(QVariantMap { { QStringLiteral("n"), qQNaN() } });
    QTest::addRow("inserting an object pointer")
            << QStringLiteral("insert")
            << QVariant(QVariantMap { { QStringLiteral("o"), QVariant::fromValue<QObject *>(this) } });
    QTest::addRow("inserting a key that is an object")
            << QStringLiteral("insert")
            << QVariant(QVariantMap { { QStringLiteral("id"), QVariantMap { { QStringLiteral("a"), 1 } } } });
    QTest::addRow("updating an unknown key") << QStringLiteral("update") << QVariant(QStringLiteral("nope"));
    QTest::addRow("updating with no changes") << QStringLiteral("updateEmpty") << QVariant();
    QTest::addRow("updating the key field") << QStringLiteral("updateKey") << QVariant();
    QTest::addRow("removing an unknown key") << QStringLiteral("remove") << QVariant(QStringLiteral("nope"));
    QTest::addRow("removing with an empty key") << QStringLiteral("remove") << QVariant(QString());
    QTest::addRow("insertMany with a non-list") << QStringLiteral("insertMany") << QVariant(5);
}

void tst_SyncCollection::badInputIsRefusedWithAnError()
{
    QFETCH(QString, call);
    QFETCH(QVariant, arg);
    Transaction *existing = m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("kept") } });
    QVERIFY(existing);
    QSignalSpy errors(m_todos.get(), &SyncCollection::errorOccurred);
    QSignalSpy engineErrors(m_engine.get(), &SyncEngine::errorOccurred);
    ModelRecorder rec(m_todos.get());
    Transaction *t = nullptr;
    if (call == QLatin1String("insert"))
        t = m_todos->insert(arg);
    else if (call == QLatin1String("update"))
        t = m_todos->update(arg, QVariantMap { { QStringLiteral("title"), QStringLiteral("x") } });
    else if (call == QLatin1String("updateEmpty"))
        t = m_todos->update(existing->key(), QVariantMap());
    else if (call == QLatin1String("updateKey"))
        t = m_todos->update(existing->key(), QVariantMap { { QStringLiteral("id"), QStringLiteral("other") } });
    else if (call == QLatin1String("remove"))
        t = m_todos->remove(arg);
    else
        t = m_todos->insertMany(arg);
    QVERIFY(!t);
    QCOMPARE(errors.size(), 1);
    QCOMPARE(engineErrors.size(), 1);
    const SyncError error = errors.constFirst().constFirst().value<SyncError>();
    QCOMPARE(error.code(), SyncError::Validation);
    QVERIFY(!error.message().isEmpty());
    QVERIFY(!error.isRetryable());
    QCOMPARE(m_engine->status()->lastError(), error);
    QVERIFY(rec.take().isEmpty());
    QCOMPARE(m_todos->count(), 1);
    QCOMPARE(m_todos->get(0).value(QStringLiteral("title")).toString(), QStringLiteral("kept"));
    QCOMPARE(m_engine->transactions().size(), 1);
}

void tst_SyncCollection::readOnlyCollectionRefusesChanges()
{
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("a") } }));
    SyncCollection *catalogue = makeCollection();
    catalogue->setReadOnly(true);
    QVERIFY(!(catalogue->flags(catalogue->index(0)) & Qt::ItemIsEditable));
    QSignalSpy errors(catalogue, &SyncCollection::errorOccurred);
    QVERIFY(!catalogue->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("b") } }));
    QVERIFY(!catalogue->setData(catalogue->index(0), QStringLiteral("z"), role(catalogue, "title")));
    QCOMPARE(errors.size(), 2);
    QCOMPARE(m_todos->count(), 1);
}

void tst_SyncCollection::invalidFieldNamesAreRefused_data()
{
    QTest::addColumn<QStringList>("fields");
    QTest::addRow("a field with SQL in it") << QStringList { QStringLiteral("x' OR 1=1") };
    QTest::addRow("a field named like a meta role") << QStringList { QStringLiteral("version") };
    QTest::addRow("a field listed twice") << QStringList { QStringLiteral("a"), QStringLiteral("a") };
    QTest::addRow("an empty field name") << QStringList { QString() };
}

void tst_SyncCollection::invalidFieldNamesAreRefused()
{
    QFETCH(QStringList, fields);
    QSignalSpy errors(m_todos.get(), &SyncCollection::errorOccurred);
    m_todos->setFields(fields);
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.constFirst().constFirst().value<SyncError>().code(), SyncError::Validation);
    QCOMPARE(m_todos->fields(), (QStringList { QStringLiteral("title"), QStringLiteral("done") }));
}

void tst_SyncCollection::collectionFillsWhenEngineOpensLater()
{
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("a") } }));
    cleanup();
    init();
    // A second engine on the same file, not opened yet: the collection fills at open.
    SyncEngine later;
    later.setDatabasePath(m_engine->databasePath());
    SyncCollection c(&later, QStringLiteral("todos"), { QStringLiteral("title") });
    QAbstractItemModelTester tester(&c, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(c.count(), 0);
    QSignalSpy ready(&later, &SyncEngine::readyChanged);
    QVERIFY(ready.wait(5000)); // opens on the first event-loop turn
    QCOMPARE(c.count(), m_todos->count());

    // An engine closed before its first event-loop turn stays closed.
    SyncEngine closed;
    closed.setDatabasePath(m_engine->databasePath());
    closed.close();
    QSignalSpy closedReady(&closed, &SyncEngine::readyChanged);
    QCoreApplication::processEvents();
    QCOMPARE(closedReady.size(), 0);
    QVERIFY(!closed.isReady());
}

void tst_SyncCollection::rowsStayInInsertionOrderAcrossReopen()
{
    QStringList titles;
    for (const char *t : { "zeta", "alpha", "mid" }) {
        QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("id"), QString::fromLatin1(t) },
                                             { QStringLiteral("title"), QString::fromLatin1(t) } }));
        titles << QString::fromLatin1(t);
    }
    QVERIFY(m_todos->remove(QStringLiteral("alpha")));
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("id"), QStringLiteral("alpha") },
                                         { QStringLiteral("title"), QStringLiteral("again") } }));
    const QStringList expected { QStringLiteral("zeta"), QStringLiteral("mid"), QStringLiteral("again") };
    auto titlesOf = [](SyncCollection *c) {
        QStringList out;
        for (int i = 0; i < c->count(); ++i)
            out << c->get(i).value(QStringLiteral("title")).toString();
        return out;
    };
    QCOMPARE(titlesOf(m_todos.get()), expected);
    m_engine->close();
    QCOMPARE(m_todos->count(), 0);
    QVERIFY(m_engine->open());
    QCOMPARE(titlesOf(m_todos.get()), expected);
}

void tst_SyncCollection::largeCollectionLoadsItsRowsAsAsked_data()
{
    QTest::addColumn<QString>("action");
    QTest::addColumn<int>("loadedAfter"); // rows in the model right after the action
    QTest::addColumn<QStringList>("expectedTail"); // titles of the last rows, all loaded
    QTest::addColumn<int>("expectedCount");

    const QStringList plainTail { u"t1197"_s, u"t1198"_s, u"t1199"_s };
    QTest::newRow("scrolling") << u"none"_s << 500 << plainTail << 1200;
    // A call that names a row not loaded yet loads it, with the rows before it.
    QTest::newRow("update a row not loaded") << u"update"_s << 1101 << plainTail << 1200;
    QTest::newRow("remove a row not loaded") << u"remove"_s << 1100 << plainTail << 1199;
    QTest::newRow("indexOfKey of a row not loaded") << u"indexOfKey"_s << 1101 << plainTail << 1200;
    // New rows are shown at once, after every stored row, loaded or not.
    QTest::newRow("insert") << u"insert"_s << 501 << QStringList { u"t1198"_s, u"t1199"_s, u"new"_s } << 1201;
    // Several models on the collection share its rows: one loads them for all.
    QTest::newRow("second model fetches") << u"second"_s << 1200 << plainTail << 1200;
}

void tst_SyncCollection::largeCollectionLoadsItsRowsAsAsked()
{
    QFETCH(QString, action);
    QFETCH(int, loadedAfter);
    QFETCH(QStringList, expectedTail);
    QFETCH(int, expectedCount);

    QVariantList items;
    for (int i = 0; i < 1200; ++i)
        items << QVariantMap { { u"id"_s, u"k%1"_s.arg(i, 4, 10, QLatin1Char('0')) },
                               { u"title"_s, u"t%1"_s.arg(i) } };
    QVERIFY(m_todos->insertMany(items));
    QCOMPARE(m_todos->count(), 1200); // made in this session: all in memory
    m_engine->close();
    QVERIFY(m_engine->open());

    // Reopened: the first 500 rows, in their order, and the rest on demand.
    QCOMPARE(m_todos->count(), 500);
    QVERIFY(m_todos->canFetchMore());
    QCOMPARE(m_todos->get(0).value(u"title"_s).toString(), u"t0"_s);
    QCOMPARE(m_todos->get(499).value(u"title"_s).toString(), u"t499"_s);
    QCOMPARE(m_todos->getByKey(u"k0499"_s).value(u"title"_s).toString(), u"t499"_s);

    if (action == u"update") {
        QVERIFY(m_todos->update(u"k1100"_s, QVariantMap { { u"title"_s, u"changed"_s } }));
        QCOMPARE(m_todos->count(), loadedAfter);
        QCOMPARE(m_todos->get(1100).value(u"title"_s).toString(), u"changed"_s);
    } else if (action == u"remove") {
        QVERIFY(m_todos->remove(u"k1100"_s));
        QCOMPARE(m_todos->count(), loadedAfter);
        QCOMPARE(m_todos->indexOfKey(u"k1100"_s), -1);
    } else if (action == u"indexOfKey") {
        QCOMPARE(m_todos->indexOfKey(u"k1100"_s), 1100);
        QCOMPARE(m_todos->count(), loadedAfter);
        QCOMPARE(m_todos->indexOfKey(u"nonexistent"_s), -1);
        QCOMPARE(m_todos->count(), loadedAfter);
    } else if (action == u"insert") {
        QVERIFY(m_todos->insert(QVariantMap { { u"id"_s, u"new"_s }, { u"title"_s, u"new"_s } }));
        QCOMPARE(m_todos->count(), loadedAfter);
        QCOMPARE(m_todos->get(500).value(u"title"_s).toString(), u"new"_s);
    } else if (action == u"second") {
        // Another model's fetchMore() loads the rows for every model on the collection. (The
        // model testers attached to both ask for more on every change too, as a view at the
        // end of the list would: the collection then loads completely.)
        std::unique_ptr<SyncCollection> other(makeCollection());
        QCOMPARE(other->count(), 500);
        QSignalSpy inserted(m_todos.get(), &QAbstractItemModel::rowsInserted);
        other->fetchMore(QModelIndex());
        QCOMPARE(other->count(), 500); // not inside the call
        QTRY_VERIFY(!inserted.isEmpty());
        QCOMPARE(inserted.at(0).at(1).toInt(), 500);
        QCOMPARE(inserted.at(0).at(2).toInt(), 999);
        QCOMPARE(other->count(), m_todos->count());
        QTRY_VERIFY(!other->canFetchMore());
        QCOMPARE(other->count(), 1200);
    } else {
        QCOMPARE(m_todos->count(), loadedAfter);
    }

    // Scrolling to the end: pages of 500, then nothing more to fetch.
    for (int pages = 0; m_todos->canFetchMore() && pages < 10; ++pages) {
        m_todos->fetchMore(QModelIndex());
        QCoreApplication::processEvents();
    }
    QVERIFY(!m_todos->canFetchMore());
    QCOMPARE(m_todos->count(), expectedCount);
    QStringList tail;
    for (int i = expectedCount - 3; i < expectedCount; ++i)
        tail << m_todos->get(i).value(u"title"_s).toString();
    QCOMPARE(tail, expectedTail);
    // Every row once, in replica order.
    QSet<QString> keys;
    for (int i = 0; i < m_todos->count(); ++i)
        keys.insert(m_todos->get(i).value(u"key"_s).toString());
    QCOMPARE(keys.size(), expectedCount);
    if (action == u"update")
        QCOMPARE(m_todos->getByKey(u"k1100"_s).value(u"title"_s).toString(), u"changed"_s);
    QCOMPARE(m_todos->getByKey(u"k0999"_s).value(u"title"_s).toString(), u"t999"_s);
    QCOMPARE(m_todos->indexOfKey(u"k1199"_s), action == u"remove" ? 1198 : 1199);
}

void tst_SyncCollection::pendingCountCountsTransactions()
{
    SyncCollection notes(m_engine.get(), QStringLiteral("notes"), { QStringLiteral("text") });
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("a") } }));
    QVERIFY(notes.insert(QVariantMap { { QStringLiteral("text"), QStringLiteral("n") } }));
    QVERIFY(notes.insert(QVariantMap { { QStringLiteral("text"), QStringLiteral("m") } }));
    QCOMPARE(m_todos->pendingCount(), 1);
    QCOMPARE(notes.pendingCount(), 2);
    QCOMPARE(m_engine->status()->pendingCount(), 3);
    QCOMPARE(m_engine->transactions().size(), 3);
    for (Transaction *t : m_engine->transactions())
        QCOMPARE(m_engine->transaction(t->id()), t);
    QCOMPARE(m_engine->transaction(QStringLiteral("unknown")), nullptr);
}

void tst_SyncCollection::scopeSelectsThePartition()
{
    m_engine->setScope({ { QStringLiteral("user"), QStringLiteral("ann") } });
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("ann's") } }));
    QSignalSpy resets(m_todos.get(), &QAbstractItemModel::modelReset);
    m_engine->setScope({ { QStringLiteral("user"), QStringLiteral("bob") } });
    QCOMPARE(resets.size(), 1);
    QCOMPARE(m_todos->count(), 0);
    QCOMPARE(m_todos->pendingCount(), 0);
    QCOMPARE(m_engine->status()->pendingCount(), 0);
    QVERIFY(m_todos->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("bob's") } }));
    m_engine->setScope({ { QStringLiteral("user"), QStringLiteral("ann") } });
    QCOMPARE(m_todos->count(), 1);
    QCOMPARE(m_todos->get(0).value(QStringLiteral("title")).toString(), QStringLiteral("ann's"));
    QCOMPARE(m_engine->transactions().size(), 1);
    // A scope that has no JSON form is refused and the current one stays.
    QSignalSpy errors(m_engine.get(), &SyncEngine::errorOccurred);
    m_engine->setScope({ { QStringLiteral("user"), QPoint(1, 2) } });
    QCOMPARE(errors.size(), 1);
    QCOMPARE(m_engine->scope().value(QStringLiteral("user")).toString(), QStringLiteral("ann"));
}

void tst_SyncCollection::errorMessagesAreTranslated()
{
    QTranslator german;
    QVERIFY(german.load(QLocale(QLocale::German), QStringLiteral("synq"), QStringLiteral("_"),
                        QStringLiteral(":/synq/translations")));
    QCoreApplication::installTranslator(&german);
    QSignalSpy errors(m_todos.get(), &SyncCollection::errorOccurred);
    QVERIFY(!m_todos->remove(QStringLiteral("nope")));
    QCoreApplication::removeTranslator(&german);
    QCOMPARE(errors.size(), 1);
    QCOMPARE(errors.constFirst().constFirst().value<SyncError>().message(),
             QStringLiteral("In „todos“ gibt es keinen Eintrag mit dem Schlüssel „nope“."));
}

QTEST_GUILESS_MAIN(tst_SyncCollection)
#include "tst_synccollection.moc"
