// SPDX-License-Identifier: BSD-3-Clause
#include <synq/compaction.h>
#include <synq/synccollection.h>
#include <synq/syncdatabase.h>
#include <synq/syncengine.h>
#include <synq/transaction.h>

#include <QtCore/QDateTime>
#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtCore/QFileInfo>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QPoint>
#include <QtCore/QRandomGenerator>
#include <QtCore/QTemporaryDir>
#include <QtCore/QThread>
#include <QtSql/QSqlDatabase>
#include <QtSql/QSqlError>
#include <QtSql/QSqlQuery>
#include <QtSql/QSqlRecord>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <cmath>
#include <functional>
#include <limits>
#include <memory>

using namespace Synq;

using Operation = std::function<Transaction *(SyncCollection *)>;
Q_DECLARE_METATYPE(Operation)

namespace {

const QStringList todoFields { QStringLiteral("title"), QStringLiteral("done") };
const QStringList synqTables { QStringLiteral("attempts"),     QStringLiteral("conflicts"),
                               QStringLiteral("cursors"),
                               QStringLiteral("id_map"),       QStringLiteral("items"),
                               QStringLiteral("meta"),
                               QStringLiteral("mutations"),    QStringLiteral("sqlite_sequence"),
                               QStringLiteral("tombstones"),   QStringLiteral("transactions") };

QVariantMap todo(const QString &key, const QString &title, bool done = false)
{
    return { { QStringLiteral("id"), key },
             { QStringLiteral("title"), title },
             { QStringLiteral("done"), done } };
}

QJsonObject parseObject(const QVariant &text)
{
    return QJsonDocument::fromJson(text.toString().toUtf8()).object();
}

// A connection of the test's own on the database file, beside the engine's: what another
// process would see. Its name is unique, and it is removed when it goes.
class Direct
{
public:
    explicit Direct(const QString &path)
        : m_name(QStringLiteral("tst_syncdatabase.direct.%1").arg(++s_count))
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_name);
        db.setDatabaseName(path);
        m_open = db.open();
    }
    ~Direct()
    {
        {
            QSqlDatabase db = QSqlDatabase::database(m_name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_name);
    }
    Direct(const Direct &) = delete;
    Direct &operator=(const Direct &) = delete;

    bool isOpen() const { return m_open; }
    QSqlDatabase db() const { return QSqlDatabase::database(m_name, false); }

    bool exec(const QString &sql, QString *error = nullptr) const
    {
        QSqlQuery q(db());
        const bool ok = q.exec(sql);
        if (!ok && error)
            *error = q.lastError().text();
        return ok;
    }

    // The first column of the first row; an invalid QVariant when there is none.
    QVariant value(const QString &sql) const
    {
        QSqlQuery q(db());
        if (!q.exec(sql) || !q.next())
            return QVariant();
        return q.value(0);
    }

    // Every row, its columns joined with " | ", NULL spelled out.
    QStringList rows(const QString &sql) const
    {
        QStringList out;
        QSqlQuery q(db());
        if (!q.exec(sql)) {
            out.append(QStringLiteral("error: ") + q.lastError().text());
            return out;
        }
        while (q.next()) {
            QStringList columns;
            for (int i = 0; i < q.record().count(); ++i)
                columns.append(q.isNull(i) ? QStringLiteral("NULL") : q.value(i).toString());
            out.append(columns.join(QLatin1String(" | ")));
        }
        return out;
    }

    // Everything the engine writes for local changes, in a stable order.
    QStringList snapshot() const
    {
        QStringList out;
        out << rows(QStringLiteral("SELECT * FROM items ORDER BY ord"))
            << QStringLiteral("--")
            << rows(QStringLiteral("SELECT * FROM transactions ORDER BY seq"))
            << QStringLiteral("--")
            << rows(QStringLiteral("SELECT * FROM outbox_mutations ORDER BY tx_id, seq"))
            << QStringLiteral("--")
            << rows(QStringLiteral("SELECT * FROM tombstones ORDER BY collection, scope, key"))
            << QStringLiteral("--")
            << rows(QStringLiteral("SELECT * FROM attempts ORDER BY id"));
        return out;
    }

    QStringList tables() const
    {
        return rows(QStringLiteral(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"));
    }

private:
    static inline int s_count = 0;
    QString m_name;
    bool m_open = false;
};

struct FileState
{
    bool exists = false;
    QByteArray bytes;
    QDateTime modified;

    static FileState of(const QString &path)
    {
        FileState state;
        const QFileInfo info(path);
        state.exists = info.exists();
        if (info.isFile()) {
            QFile file(path);
            if (file.open(QIODevice::ReadOnly))
                state.bytes = file.readAll();
            state.modified = info.lastModified();
        }
        return state;
    }
};

bool writeFile(const QString &path, const QByteArray &bytes)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly | QIODevice::Truncate)
            && file.write(bytes) == bytes.size();
}

// The engine's own connection: SyncDatabase names each of its connections "synq:...". Only
// one engine is open whenever this is called.
QSqlDatabase engineConnection()
{
    QStringList names;
    for (const QString &name : QSqlDatabase::connectionNames()) {
        if (name.startsWith(QLatin1String("synq:")))
            names.append(name);
    }
    return names.size() == 1 ? QSqlDatabase::database(names.constFirst(), false)
                             : QSqlDatabase();
}

QVariant pragma(const QSqlDatabase &db, const QString &name)
{
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("PRAGMA ") + name) || !q.next())
        return QVariant();
    return q.value(0);
}

SyncError errorAt(const QSignalSpy &spy, int i)
{
    return spy.at(i).at(0).value<SyncError>();
}

// The visible rows of a model: key and item fields, without the meta roles.
QList<QPair<QString, QJsonObject>> modelRows(const SyncCollection &model)
{
    QList<QPair<QString, QJsonObject>> out;
    for (int row = 0; row < model.rowCount(); ++row) {
        QVariantMap map = model.get(row);
        for (const QString &meta : SyncCollection::metaRoleNames())
            map.remove(meta);
        out.append({ model.index(row).data(SyncCollection::KeyRole).toString(),
                     QJsonObject::fromVariantMap(map) });
    }
    return out;
}

} // namespace

class tst_SyncDatabase : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data();
    void init();
    void cleanup();

    void newFileGetsSynqPragmas_data();
    void newFileGetsSynqPragmas();
    void everyThreadConnectionGetsThePragmas_data();
    void everyThreadConnectionGetsThePragmas();

    void refusesFilesItCannotUse_data();
    void refusesFilesItCannotUse();
    void refusedNewerFileKeepsItsData();
    void refusesUnusablePaths_data();
    void refusesUnusablePaths();
    void damagedFileFailsCleanly_data();
    void damagedFileFailsCleanly();

    void refusesCollectionNamesWithSql_data();
    void refusesCollectionNamesWithSql();
    void refusesFieldNamesWithSql_data();
    void refusesFieldNamesWithSql();
    void storesSqlInValuesVerbatim();

    void localWriteIsOneTransaction_data();
    void localWriteIsOneTransaction();
    void failedWriteLeavesNoTrace_data();
    void failedWriteLeavesNoTrace();
    void refusesInvalidChanges_data();
    void refusesInvalidChanges();

    void loadsTransactionsByScopeStateAndId();
    void loadsVisibleItemsByOrdRange();
    void upgradesSchemaOneKeepingTheOutbox();
    void eachMutationKeepsTheStateItMade();
    void oneMutationIsHeldInItsTransactionRow();
    void activeTransactionsAreReadFromTheMark();

private:
    // The strategy of the current global data row, for every collection that writes.
    static SyncCollection::Strategy strategy()
    {
        QFETCH_GLOBAL(SyncCollection::Strategy, strategy);
        return strategy;
    }
    QString path(const QString &name = QStringLiteral("synq.sqlite")) const
    {
        return m_dir->filePath(name);
    }
    // Fills a fresh Synq file with the given items and closes it again.
    void makeSynqFile(const QString &file, const QList<QVariantMap> &items);
    void verifyOutboxConsistent(const Direct &direct, const SyncCollection &model);

    std::unique_ptr<QTemporaryDir> m_dir;
};

void tst_SyncDatabase::initTestCase_data()
{
    QTest::addColumn<SyncCollection::Strategy>("strategy");

    QTest::newRow("ordered") << SyncCollection::Ordered;
    QTest::newRow("parallel") << SyncCollection::Parallel;
}

void tst_SyncDatabase::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY2(m_dir->isValid(), qPrintable(m_dir->errorString()));
}

void tst_SyncDatabase::cleanup()
{
    m_dir.reset();
    // Every engine and direct connection of a test function is gone when it returns.
    QVERIFY2(QSqlDatabase::connectionNames().isEmpty(),
             qPrintable(QSqlDatabase::connectionNames().join(QLatin1String(", "))));
}

void tst_SyncDatabase::makeSynqFile(const QString &file, const QList<QVariantMap> &items)
{
    SyncEngine engine;
    engine.setDatabasePath(file);
    QVERIFY(engine.open());
    SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
    todos.setStrategy(strategy());
    for (const QVariantMap &item : items)
        QVERIFY(todos.insert(item));
    QCOMPARE(todos.rowCount(), items.size());
}

// Every outbox row belongs to a stored transaction and a stored item, every transaction has
// mutations, and the items' visible state is exactly what the model shows.
void tst_SyncDatabase::verifyOutboxConsistent(const Direct &direct, const SyncCollection &model)
{
    QCOMPARE(direct.value(QStringLiteral(
                     "SELECT count(*) FROM outbox_mutations m WHERE NOT EXISTS"
                     " (SELECT 1 FROM transactions t WHERE t.id = m.tx_id)"))
                     .toInt(),
             0);
    QCOMPARE(direct.value(QStringLiteral(
                     "SELECT count(*) FROM transactions t WHERE NOT EXISTS"
                     " (SELECT 1 FROM outbox_mutations m WHERE m.tx_id = t.id)"))
                     .toInt(),
             0);
    QCOMPARE(direct.value(QStringLiteral(
                     "SELECT count(*) FROM outbox_mutations m WHERE NOT EXISTS"
                     " (SELECT 1 FROM items i WHERE i.collection = m.collection"
                     " AND i.scope = m.scope AND i.key = m.key)"))
                     .toInt(),
             0);

    QList<QPair<QString, QJsonObject>> stored;
    QSqlQuery q(direct.db());
    QVERIFY(q.exec(QStringLiteral(
            "SELECT key, local_data FROM items WHERE collection = 'todos' AND local_deleted = 0"
            " AND deleted = 0 AND COALESCE(local_data, data) IS NOT NULL ORDER BY ord")));
    while (q.next())
        stored.append({ q.value(0).toString(), parseObject(q.value(1)) });
    QCOMPARE(stored, modelRows(model));

    // The last mutation of each key says what the item became.
    QVERIFY(q.exec(QStringLiteral(
            "SELECT m.key, m.type, m.modified, i.local_data, i.local_deleted FROM outbox_mutations m"
            " JOIN transactions t ON t.id = m.tx_id JOIN items i ON i.collection = m.collection"
            " AND i.scope = m.scope AND i.key = m.key"
            " WHERE NOT EXISTS (SELECT 1 FROM outbox_mutations m2 JOIN transactions t2"
            " ON t2.id = m2.tx_id WHERE m2.collection = m.collection AND m2.key = m.key"
            " AND (t2.seq > t.seq OR (t2.seq = t.seq AND m2.seq > m.seq)))")));
    int keys = 0;
    while (q.next()) {
        ++keys;
        const QString key = q.value(0).toString();
        if (MutationType(q.value(1).toInt()) == MutationType::Remove) {
            QVERIFY2(q.value(4).toInt() == 1, qPrintable(key));
        } else {
            QVERIFY2(q.value(4).toInt() == 0, qPrintable(key));
            QCOMPARE(parseObject(q.value(3)), parseObject(q.value(2)));
        }
    }
    QCOMPARE(keys,
             direct.value(QStringLiteral("SELECT count(DISTINCT key) FROM outbox_mutations")).toInt());
}

// --- pragmas ------------------------------------------------------------------------------

void tst_SyncDatabase::newFileGetsSynqPragmas_data()
{
    QTest::addColumn<bool>("setBeforeOpen");
    QTest::addColumn<bool>("setAfterOpen");
    QTest::addColumn<SyncEngine::Durability>("durability");
    QTest::addColumn<int>("synchronous");

    QTest::newRow("the default durability syncs FULL")
            << false << false << SyncEngine::Full << 2;
    QTest::newRow("Full durability syncs FULL") << true << false << SyncEngine::Full << 2;
    QTest::newRow("Normal durability syncs NORMAL") << true << false << SyncEngine::Normal << 1;
    QTest::newRow("Normal durability set on an open engine syncs NORMAL")
            << false << true << SyncEngine::Normal << 1;
}

void tst_SyncDatabase::newFileGetsSynqPragmas()
{
    QFETCH(bool, setBeforeOpen);
    QFETCH(bool, setAfterOpen);
    QFETCH(SyncEngine::Durability, durability);
    QFETCH(int, synchronous);

    SyncEngine engine;
    QSignalSpy errors(&engine, &SyncEngine::errorOccurred);
    engine.setDatabasePath(path());
    if (setBeforeOpen)
        engine.setDurability(durability);
    QVERIFY(!QFileInfo::exists(path()));
    QVERIFY(engine.open());
    QVERIFY(engine.isReady());
    if (setAfterOpen)
        engine.setDurability(durability);
    QCOMPARE(engine.durability(), durability);

    for (int round = 0; round < 2; ++round) {
        // The second round checks that a reopened engine keeps its durability.
        {
            const QSqlDatabase db = engineConnection();
            QVERIFY(db.isOpen());
            QCOMPARE(pragma(db, QStringLiteral("synchronous")).toInt(), synchronous);
            QCOMPARE(pragma(db, QStringLiteral("journal_mode")).toString(),
                     QStringLiteral("wal"));
            QVERIFY(pragma(db, QStringLiteral("busy_timeout")).toInt() > 0);
            QCOMPARE(pragma(db, QStringLiteral("foreign_keys")).toInt(), 1);
        }
        engine.close();
        QVERIFY(!engine.isReady());
        QVERIFY(engine.open());
    }
    engine.close();

    // What the file itself says, to anyone who opens it.
    Direct direct(path());
    QVERIFY(direct.isOpen());
    QCOMPARE(pragma(direct.db(), QStringLiteral("journal_mode")).toString(),
             QStringLiteral("wal"));
    QCOMPARE(pragma(direct.db(), QStringLiteral("application_id")).toLongLong(),
             qint64(0x53796e71));
    QCOMPARE(pragma(direct.db(), QStringLiteral("user_version")).toInt(),
             SyncDatabase::SchemaVersion);
    QCOMPARE(direct.tables(), synqTables);
    QCOMPARE(errors.count(), 0);
}

void tst_SyncDatabase::everyThreadConnectionGetsThePragmas_data()
{
    QTest::addColumn<SyncDatabase::Synchronous>("level");
    QTest::addColumn<int>("synchronous");

    QTest::newRow("FULL") << SyncDatabase::Synchronous::Full << 2;
    QTest::newRow("NORMAL") << SyncDatabase::Synchronous::Normal << 1;
}

void tst_SyncDatabase::everyThreadConnectionGetsThePragmas()
{
    QFETCH(SyncDatabase::Synchronous, level);
    QFETCH(int, synchronous);

    SyncDatabase database(path());
    const SyncError error = database.open(level);
    QVERIFY2(!error.isError(), qPrintable(error.toString()));
    QVERIFY(database.isOpen());
    QCOMPARE(database.schemaVersion(), SyncDatabase::SchemaVersion);
    QCOMPARE(pragma(database.connection(), QStringLiteral("synchronous")).toInt(), synchronous);

    QVariantList seen; // synchronous, busy_timeout, foreign_keys, journal_mode
    QString workerConnection;
    std::unique_ptr<QThread> worker(QThread::create([&] {
        {
            const QSqlDatabase db = database.connection();
            workerConnection = db.connectionName();
            seen << pragma(db, QStringLiteral("synchronous"))
                 << pragma(db, QStringLiteral("busy_timeout"))
                 << pragma(db, QStringLiteral("foreign_keys"))
                 << pragma(db, QStringLiteral("journal_mode"));
        }
        database.releaseThreadConnection();
    }));
    worker->start();
    QVERIFY(worker->wait(10000));

    QVERIFY(!workerConnection.isEmpty());
    QVERIFY(workerConnection != database.connection().connectionName());
    QVERIFY(!QSqlDatabase::contains(workerConnection));
    QCOMPARE(seen.size(), 4);
    QCOMPARE(seen.at(0).toInt(), synchronous);
    QVERIFY(seen.at(1).toInt() > 0);
    QCOMPARE(seen.at(2).toInt(), 1);
    QCOMPARE(seen.at(3).toString(), QStringLiteral("wal"));
}

// --- files and paths it cannot use ---------------------------------------------------------

enum class BadFile { RandomBytes, Text, Foreign, ForeignWal, ForeignApplicationId, Newer };
Q_DECLARE_METATYPE(BadFile)

void tst_SyncDatabase::refusesFilesItCannotUse_data()
{
    QTest::addColumn<BadFile>("kind");

    QTest::newRow("a file of random bytes") << BadFile::RandomBytes;
    QTest::newRow("a short text file") << BadFile::Text;
    QTest::newRow("another program's SQLite database") << BadFile::Foreign;
    QTest::newRow("another program's SQLite database in WAL mode") << BadFile::ForeignWal;
    QTest::newRow("an empty SQLite database with another application id")
            << BadFile::ForeignApplicationId;
    QTest::newRow("a Synq database from a newer schema") << BadFile::Newer;
}

void tst_SyncDatabase::refusesFilesItCannotUse()
{
    QFETCH(BadFile, kind);

    const quint32 seed = QRandomGenerator::global()->generate();
    switch (kind) {
    case BadFile::RandomBytes: {
        qInfo("random bytes seed %u", seed);
        QRandomGenerator random(seed);
        QByteArray bytes(64 * 1024, Qt::Uninitialized);
        random.fillRange(reinterpret_cast<quint32 *>(bytes.data()), bytes.size() / 4);
        QVERIFY(writeFile(path(), bytes));
        break;
    }
    case BadFile::Text:
        QVERIFY(writeFile(path(), "This is a shopping list, not a database.\nMilk\nBread\n"));
        break;
    case BadFile::Foreign:
    case BadFile::ForeignWal: {
        Direct direct(path());
        QVERIFY(direct.isOpen());
        if (kind == BadFile::ForeignWal)
            QVERIFY(direct.exec(QStringLiteral("PRAGMA journal_mode = WAL")));
        QVERIFY(direct.exec(
                QStringLiteral("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")));
        QVERIFY(direct.exec(QStringLiteral("INSERT INTO notes (body) VALUES ('keep me')")));
        break;
    }
    case BadFile::ForeignApplicationId: {
        Direct direct(path());
        QVERIFY(direct.isOpen());
        QVERIFY(direct.exec(QStringLiteral("PRAGMA application_id = 1234")));
        QCOMPARE(direct.value(QStringLiteral("SELECT count(*) FROM sqlite_master")).toInt(), 0);
        break;
    }
    case BadFile::Newer: {
        makeSynqFile(path(), { todo(QStringLiteral("a"), QStringLiteral("Milk")) });
        if (QTest::currentTestFailed())
            return;
        Direct direct(path());
        QVERIFY(direct.exec(QStringLiteral("PRAGMA user_version = %1")
                                    .arg(SyncDatabase::SchemaVersion + 1)));
        break;
    }
    }
    const FileState before = FileState::of(path());
    QVERIFY(before.exists);
    QVERIFY(!before.bytes.isEmpty());

    SyncEngine engine;
    QSignalSpy errors(&engine, &SyncEngine::errorOccurred);
    engine.setDatabasePath(path());
    QVERIFY(!engine.open());
    QVERIFY(!engine.isReady());
    QCOMPARE(errors.count(), 1);
    QCOMPARE(errorAt(errors, 0).code(), SyncError::Storage);
    QVERIFY(!errorAt(errors, 0).message().isEmpty());
    QCOMPARE(engine.status()->lastError(), errorAt(errors, 0));

    // A change on the refused file is refused too, and writes nothing.
    SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy todoErrors(&todos, &SyncCollection::errorOccurred);
    QCOMPARE(todos.rowCount(), 0);
    QVERIFY(!todos.insert(todo(QStringLiteral("b"), QStringLiteral("Bread"))));
    QCOMPARE(todoErrors.count(), 1);
    QCOMPARE(errorAt(todoErrors, 0).code(), SyncError::Storage);
    QCOMPARE(errors.count(), 2);
    QCOMPARE(todos.rowCount(), 0);
    QVERIFY(engine.transactions().isEmpty());

    const FileState after = FileState::of(path());
    QVERIFY(after.exists);
    QCOMPARE(after.bytes.size(), before.bytes.size());
    QVERIFY(after.bytes == before.bytes);
    QCOMPARE(after.modified, before.modified);
}

void tst_SyncDatabase::refusedNewerFileKeepsItsData()
{
    const QList<QVariantMap> items { todo(QStringLiteral("a"), QStringLiteral("Milk")),
                                     todo(QStringLiteral("b"), QStringLiteral("Bread"), true) };
    makeSynqFile(path(), items);
    if (QTest::currentTestFailed())
        return;
    QStringList stored;
    {
        Direct direct(path());
        stored = direct.snapshot();
        QVERIFY(direct.exec(QStringLiteral("PRAGMA user_version = 99")));
    }
    {
        SyncEngine engine;
        QSignalSpy errors(&engine, &SyncEngine::errorOccurred);
        engine.setDatabasePath(path());
        QVERIFY(!engine.open());
        QCOMPARE(errors.count(), 1);
        QCOMPARE(errorAt(errors, 0).code(), SyncError::Storage);
        QVERIFY(errorAt(errors, 0).message().contains(QLatin1String("newer")));
    }
    {
        // The refusal changed nothing: back at this version, the file opens as it was.
        Direct direct(path());
        QCOMPARE(direct.value(QStringLiteral("PRAGMA user_version")).toInt(), 99);
        QCOMPARE(direct.snapshot(), stored);
        QVERIFY(direct.exec(QStringLiteral("PRAGMA user_version = %1")
                                    .arg(SyncDatabase::SchemaVersion)));
    }
    SyncEngine engine;
    engine.setDatabasePath(path());
    QVERIFY(engine.open());
    SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(todos.rowCount(), 2);
    QCOMPARE(todos.get(0).value(QStringLiteral("title")).toString(), QStringLiteral("Milk"));
    QCOMPARE(todos.get(1).value(QStringLiteral("title")).toString(), QStringLiteral("Bread"));
    QCOMPARE(todos.get(1).value(QStringLiteral("done")).toBool(), true);
    QCOMPARE(engine.transactions().size(), 2);
}

void tst_SyncDatabase::refusesUnusablePaths_data()
{
    // {dir} is the test's temporary folder, which holds a regular file "file.txt".
    QTest::addColumn<QString>("databasePath");

    QTest::newRow("an empty path") << QString();
    QTest::newRow("a path under a regular file") << QStringLiteral("{dir}/file.txt/synq.sqlite");
    QTest::newRow("a path two folders under a regular file")
            << QStringLiteral("{dir}/file.txt/a/b/synq.sqlite");
    QTest::newRow("a path that is a folder") << QStringLiteral("{dir}");
    QTest::newRow("a file in /proc/self") << QStringLiteral("/proc/self/synq.sqlite");
    QTest::newRow("a folder that cannot be made in /proc")
            << QStringLiteral("/proc/synq-no-such-folder/synq.sqlite");
}

void tst_SyncDatabase::refusesUnusablePaths()
{
    QFETCH(QString, databasePath);
    databasePath.replace(QLatin1String("{dir}"), m_dir->path());

    QVERIFY(writeFile(path(QStringLiteral("file.txt")), "a regular file\n"));
    const FileState before = FileState::of(path(QStringLiteral("file.txt")));
    const bool existed = QFileInfo::exists(databasePath);

    SyncEngine engine;
    QSignalSpy errors(&engine, &SyncEngine::errorOccurred);
    engine.setDatabasePath(databasePath);
    QCOMPARE(engine.databasePath(), databasePath);
    QVERIFY(!engine.open());
    QVERIFY(!engine.isReady());
    QCOMPARE(errors.count(), 1);
    QCOMPARE(errorAt(errors, 0).code(), SyncError::Storage);
    QVERIFY(!errorAt(errors, 0).message().isEmpty());

    SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy todoErrors(&todos, &SyncCollection::errorOccurred);
    QVERIFY(!todos.insert(todo(QStringLiteral("a"), QStringLiteral("Milk"))));
    QCOMPARE(todoErrors.count(), 1);
    QCOMPARE(errorAt(todoErrors, 0).code(), SyncError::Storage);
    QCOMPARE(todos.rowCount(), 0);

    QCOMPARE(QFileInfo::exists(databasePath), existed);
    const FileState after = FileState::of(path(QStringLiteral("file.txt")));
    QVERIFY(after.bytes == before.bytes);
    QCOMPARE(after.modified, before.modified);
    QCOMPARE(QDir(m_dir->path()).entryList(QDir::NoDotAndDotDot | QDir::AllEntries),
             QStringList { QStringLiteral("file.txt") });
}

enum class Damage { ZeroedMiddle, RandomMiddle, Truncated, Header };
Q_DECLARE_METATYPE(Damage)

void tst_SyncDatabase::damagedFileFailsCleanly_data()
{
    QTest::addColumn<Damage>("damage");

    QTest::newRow("middle pages zeroed") << Damage::ZeroedMiddle;
    QTest::newRow("middle pages overwritten with random bytes") << Damage::RandomMiddle;
    QTest::newRow("the file cut in half") << Damage::Truncated;
    QTest::newRow("the header overwritten") << Damage::Header;
}

void tst_SyncDatabase::damagedFileFailsCleanly()
{
    QFETCH(Damage, damage);

    // Enough rows for the items and the outbox to span many pages.
    QList<QVariantMap> items;
    for (int i = 0; i < 300; ++i) {
        items.append(todo(QStringLiteral("key-%1").arg(i, 3, 10, QLatin1Char('0')),
                          QStringLiteral("Item %1 ").arg(i).repeated(20)));
    }
    makeSynqFile(path(), items);
    if (QTest::currentTestFailed())
        return;
    QVERIFY(QFile::copy(path(), path(QStringLiteral("good.sqlite"))));

    QByteArray bytes = FileState::of(path()).bytes;
    const int pageSize = 4096;
    const int pages = int(bytes.size() / pageSize);
    QVERIFY2(pages >= 40, qPrintable(QString::number(pages)));
    const quint32 seed = QRandomGenerator::global()->generate();
    qInfo("damage seed %u, %d pages", seed, pages);
    QRandomGenerator random(seed);
    const int first = pages / 4;
    const int last = pages - pages / 4;
    switch (damage) {
    case Damage::ZeroedMiddle:
        bytes.replace(first * pageSize, (last - first) * pageSize,
                      QByteArray((last - first) * pageSize, '\0'));
        break;
    case Damage::RandomMiddle:
        for (int i = first * pageSize; i < last * pageSize; ++i)
            bytes[i] = char(random.bounded(256));
        break;
    case Damage::Truncated:
        bytes.truncate((pages / 2) * pageSize);
        break;
    case Damage::Header:
        bytes.replace(0, 16, QByteArray("Not SQLite! v3\0\0", 16));
        break;
    }
    QVERIFY(writeFile(path(), bytes));
    const FileState before = FileState::of(path());

    {
        SyncEngine engine;
        QSignalSpy errors(&engine, &SyncEngine::errorOccurred);
        engine.setDatabasePath(path());
        const bool opened = engine.open();
        // Opening may succeed when the first pages are sound; the first read must fail then.
        SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
        QAbstractItemModelTester tester(&todos,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        const QList<Transaction *> transactions = engine.transactions();
        qInfo("opened: %d, errors: %d, rows: %d, transactions: %d", opened, int(errors.count()),
              todos.rowCount(), int(transactions.size()));
        QVERIFY(errors.count() >= 1);
        QCOMPARE(errorAt(errors, 0).code(), SyncError::Storage);
        QVERIFY(!errorAt(errors, 0).message().isEmpty());
        QCOMPARE(opened, engine.isReady());
        QVERIFY(todos.rowCount() < items.size());
    }
    const FileState after = FileState::of(path());
    QVERIFY(after.bytes == before.bytes);
    QCOMPARE(after.modified, before.modified);

    // The copy made before the damage still has every row.
    SyncEngine engine;
    QSignalSpy errors(&engine, &SyncEngine::errorOccurred);
    engine.setDatabasePath(path(QStringLiteral("good.sqlite")));
    QVERIFY(engine.open());
    SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(todos.rowCount(), items.size());
    for (int i = 0; i < items.size(); ++i)
        QCOMPARE(todos.get(i).value(QStringLiteral("title")),
                 items.at(i).value(QStringLiteral("title")));
    QCOMPARE(engine.transactions().size(), items.size());
    QCOMPARE(errors.count(), 0);
}

// --- names and values with SQL in them -----------------------------------------------------

void tst_SyncDatabase::refusesCollectionNamesWithSql_data()
{
    QTest::addColumn<QString>("name");

    QTest::newRow("a statement after the name") << QStringLiteral("todos; DROP TABLE items");
    QTest::newRow("a quote and a tautology") << QStringLiteral("x' OR 1=1");
    QTest::newRow("a comment") << QStringLiteral("todos --");
    QTest::newRow("SQLite's own table") << QStringLiteral("sqlite_master");
    QTest::newRow("a name with a dot") << QStringLiteral("main.items");
}

void tst_SyncDatabase::refusesCollectionNamesWithSql()
{
    QFETCH(QString, name);

    SyncEngine engine;
    QSignalSpy engineErrors(&engine, &SyncEngine::errorOccurred);
    engine.setDatabasePath(path());
    QVERIFY(engine.open());
    SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
    todos.setStrategy(strategy());
    QVERIFY(todos.insert(todo(QStringLiteral("a"), QStringLiteral("Milk"))));
    QVERIFY(todos.insert(todo(QStringLiteral("b"), QStringLiteral("Bread"))));

    Direct direct(path());
    const QStringList stored = direct.snapshot();

    SyncCollection bad;
    QAbstractItemModelTester tester(&bad, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy errors(&bad, &SyncCollection::errorOccurred);
    bad.setFields(todoFields);
    bad.setEngine(&engine);
    QCOMPARE(errors.count(), 0);
    bad.setName(name);
    QCOMPARE(errors.count(), 1);
    QCOMPARE(errorAt(errors, 0).code(), SyncError::Validation);
    QVERIFY(errorAt(errors, 0).message().contains(name));
    QCOMPARE(bad.rowCount(), 0);

    QVERIFY(!bad.insert(todo(QStringLiteral("c"), QStringLiteral("Eggs"))));
    QCOMPARE(errors.count(), 2);
    QCOMPARE(errorAt(errors, 1).code(), SyncError::Validation);
    QCOMPARE(engineErrors.count(), 1);
    QCOMPARE(errorAt(engineErrors, 0).code(), SyncError::Validation);
    QCOMPARE(bad.rowCount(), 0);

    QCOMPARE(direct.tables(), synqTables);
    QCOMPARE(direct.snapshot(), stored);
    QCOMPARE(direct.value(QStringLiteral("PRAGMA integrity_check")).toString(),
             QStringLiteral("ok"));
    QCOMPARE(todos.rowCount(), 2);
}

void tst_SyncDatabase::refusesFieldNamesWithSql_data()
{
    QTest::addColumn<QString>("field");

    QTest::newRow("a quote and a tautology") << QStringLiteral("x' OR 1=1");
    QTest::newRow("a statement after the name")
            << QStringLiteral("title); DROP TABLE mutations; --");
    QTest::newRow("a JSON path") << QStringLiteral("$.title");
    QTest::newRow("a meta role name") << QStringLiteral("syncState");
}

void tst_SyncDatabase::refusesFieldNamesWithSql()
{
    QFETCH(QString, field);

    SyncEngine engine;
    QSignalSpy engineErrors(&engine, &SyncEngine::errorOccurred);
    engine.setDatabasePath(path());
    QVERIFY(engine.open());
    SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
    todos.setStrategy(strategy());
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy errors(&todos, &SyncCollection::errorOccurred);
    QSignalSpy fieldsChanged(&todos, &SyncCollection::fieldsChanged);
    QVERIFY(todos.insert(todo(QStringLiteral("a"), QStringLiteral("Milk"))));

    Direct direct(path());
    const QStringList stored = direct.snapshot();

    todos.setFields({ QStringLiteral("title"), field });
    QCOMPARE(errors.count(), 1);
    QCOMPARE(errorAt(errors, 0).code(), SyncError::Validation);
    QVERIFY(errorAt(errors, 0).message().contains(field));
    QCOMPARE(engineErrors.count(), 1);
    QCOMPARE(errorAt(engineErrors, 0).code(), SyncError::Validation);
    QCOMPARE(fieldsChanged.count(), 0);
    QCOMPARE(todos.fields(), todoFields);
    const QHash<int, QByteArray> roles = todos.roleNames();
    QCOMPARE(roles.value(SyncCollection::FirstFieldRole), QByteArray("title"));
    QCOMPARE(roles.value(SyncCollection::FirstFieldRole + 1), QByteArray("done"));
    QVERIFY(!roles.contains(SyncCollection::FirstFieldRole + 2));

    QCOMPARE(direct.tables(), synqTables);
    QCOMPARE(direct.snapshot(), stored);
    QCOMPARE(todos.rowCount(), 1);
}

void tst_SyncDatabase::storesSqlInValuesVerbatim()
{
    const QVariantMap item {
        { QStringLiteral("id"), QStringLiteral("x' OR 1=1; --") },
        { QStringLiteral("title"), QStringLiteral("'); DROP TABLE items; --") },
        { QStringLiteral("x' OR 1=1"), QStringLiteral("\" OR \"\"=\"") },
        { QStringLiteral("done"), false },
    };
    {
        SyncEngine engine;
        engine.setDatabasePath(path());
        QVERIFY(engine.open());
        SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
        todos.setStrategy(strategy());
        QVERIFY(todos.insert(item));
        QVERIFY(todos.update(QStringLiteral("x' OR 1=1; --"),
                             QVariantMap { { QStringLiteral("done"), true } }));
    }
    SyncEngine engine;
    QSignalSpy errors(&engine, &SyncEngine::errorOccurred);
    engine.setDatabasePath(path());
    QVERIFY(engine.open());
    SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(todos.rowCount(), 1);
    QVariantMap expected = item;
    expected.insert(QStringLiteral("done"), true);
    QVariantMap row = todos.get(0);
    for (const QString &meta : SyncCollection::metaRoleNames())
        row.remove(meta);
    QCOMPARE(row, expected);
    QCOMPARE(todos.indexOfKey(QStringLiteral("x' OR 1=1; --")), 0);
    QCOMPARE(errors.count(), 0);

    Direct direct(path());
    QCOMPARE(direct.tables(), synqTables);
    QCOMPARE(direct.value(QStringLiteral("SELECT count(*) FROM items")).toInt(), 1);
}

// --- local writes --------------------------------------------------------------------------

void tst_SyncDatabase::localWriteIsOneTransaction_data()
{
    QTest::addColumn<Operation>("operation");
    QTest::addColumn<int>("mutations");

    // The collection holds a, b and c (titles Milk, Bread, Eggs) when each runs.
    QTest::newRow("an insert") << Operation([](SyncCollection *c) {
        return c->insert(todo(QStringLiteral("d"), QStringLiteral("Tea")));
    }) << 1;
    QTest::newRow("an insert with a generated key") << Operation([](SyncCollection *c) {
        return c->insert(QVariantMap { { QStringLiteral("title"), QStringLiteral("Tea") } });
    }) << 1;
    QTest::newRow("an update") << Operation([](SyncCollection *c) {
        return c->update(QStringLiteral("b"), QVariantMap { { QStringLiteral("done"), true } });
    }) << 1;
    QTest::newRow("a remove") << Operation([](SyncCollection *c) {
        return c->remove(QStringLiteral("b"));
    }) << 1;
    QTest::newRow("an insertMany") << Operation([](SyncCollection *c) {
        return c->insertMany(QVariantList { todo(QStringLiteral("d"), QStringLiteral("Tea")),
                                            todo(QStringLiteral("e"), QStringLiteral("Jam")),
                                            todo(QStringLiteral("f"), QStringLiteral("Oil")) });
    }) << 3;
    QTest::newRow("an updateMany") << Operation([](SyncCollection *c) {
        return c->updateMany(QVariantList {
                QVariantMap { { QStringLiteral("key"), QStringLiteral("a") },
                              { QStringLiteral("changes"),
                                QVariantMap { { QStringLiteral("title"),
                                                QStringLiteral("Oat milk") } } } },
                QVariantMap { { QStringLiteral("key"), QStringLiteral("c") },
                              { QStringLiteral("changes"),
                                QVariantMap { { QStringLiteral("done"), true } } } } });
    }) << 2;
    QTest::newRow("a removeMany") << Operation([](SyncCollection *c) {
        return c->removeMany(QStringList { QStringLiteral("a"), QStringLiteral("c") });
    }) << 2;
}

void tst_SyncDatabase::localWriteIsOneTransaction()
{
    QFETCH(Operation, operation);
    QFETCH(int, mutations);

    SyncEngine engine;
    engine.setDatabasePath(path());
    QVERIFY(engine.open());
    SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
    todos.setStrategy(strategy());
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QVERIFY(todos.insertMany(QVariantList { todo(QStringLiteral("a"), QStringLiteral("Milk")),
                                            todo(QStringLiteral("b"), QStringLiteral("Bread")),
                                            todo(QStringLiteral("c"), QStringLiteral("Eggs")) }));

    Direct direct(path());
    verifyOutboxConsistent(direct, todos);
    const int transactionsBefore =
            direct.value(QStringLiteral("SELECT count(*) FROM transactions")).toInt();

    Transaction *t = operation(&todos);
    QVERIFY(t);
    QCOMPARE(t->state(), Transaction::Pending);
    QCOMPARE(t->mutationCount(), mutations);

    // Committed, and visible to another connection, before the call returned.
    QCOMPARE(direct.value(QStringLiteral("SELECT count(*) FROM transactions")).toInt(),
             transactionsBefore + 1);
    QSqlQuery q(direct.db());
    QVERIFY(q.prepare(
            QStringLiteral("SELECT state, scope, strategy FROM transactions WHERE id = ?")));
    q.addBindValue(t->id());
    QVERIFY(q.exec());
    QVERIFY(q.next());
    QCOMPARE(q.value(0).toInt(), int(TransactionState::Pending));
    QCOMPARE(q.value(1).toString(), QString());
    QCOMPARE(q.value(2).toInt(), int(strategy()));
    QCOMPARE(int(t->strategy()), int(strategy()));
    QVERIFY(q.prepare(
            QStringLiteral("SELECT id, key, type FROM outbox_mutations WHERE tx_id = ? ORDER BY seq")));
    q.addBindValue(t->id());
    QVERIFY(q.exec());
    QStringList storedMutations;
    while (q.next())
        storedMutations.append(q.value(1).toString() + QLatin1Char(':') + q.value(2).toString());
    QStringList expectedMutations;
    for (const MutationRecord &m : t->record().mutations)
        expectedMutations.append(m.key + QLatin1Char(':') + QString::number(int(m.type)));
    QCOMPARE(storedMutations.size(), mutations);
    QCOMPARE(storedMutations, expectedMutations);
    verifyOutboxConsistent(direct, todos);

    // And the same after a reopen: the stored state is the state the model showed.
    const auto shown = modelRows(todos);
    engine.close();
    QVERIFY(engine.open());
    QCOMPARE(modelRows(todos), shown);
    verifyOutboxConsistent(direct, todos);
}

void tst_SyncDatabase::failedWriteLeavesNoTrace_data()
{
    QTest::addColumn<Operation>("operation");

    // The collection holds a, b and poison; every mutation of a key starting with "poison"
    // fails in SQLite, at the last statement of the write.
    QTest::newRow("an insert") << Operation([](SyncCollection *c) {
        return c->insert(todo(QStringLiteral("poison-new"), QStringLiteral("Tea")));
    });
    QTest::newRow("an update") << Operation([](SyncCollection *c) {
        return c->update(QStringLiteral("poison"),
                         QVariantMap { { QStringLiteral("done"), true } });
    });
    QTest::newRow("a remove") << Operation([](SyncCollection *c) {
        return c->remove(QStringLiteral("poison"));
    });
    QTest::newRow("an insertMany with one bad item") << Operation([](SyncCollection *c) {
        return c->insertMany(
                QVariantList { todo(QStringLiteral("d"), QStringLiteral("Tea")),
                               todo(QStringLiteral("poison-new"), QStringLiteral("Jam")),
                               todo(QStringLiteral("e"), QStringLiteral("Oil")) });
    });
    QTest::newRow("an updateMany with one bad item") << Operation([](SyncCollection *c) {
        return c->updateMany(QVariantList {
                QVariantMap { { QStringLiteral("key"), QStringLiteral("a") },
                              { QStringLiteral("changes"),
                                QVariantMap { { QStringLiteral("done"), true } } } },
                QVariantMap { { QStringLiteral("key"), QStringLiteral("poison") },
                              { QStringLiteral("changes"),
                                QVariantMap { { QStringLiteral("done"), true } } } } });
    });
    QTest::newRow("a removeMany with one bad item") << Operation([](SyncCollection *c) {
        return c->removeMany(QStringList { QStringLiteral("a"), QStringLiteral("poison"),
                                           QStringLiteral("b") });
    });
}

void tst_SyncDatabase::failedWriteLeavesNoTrace()
{
    QFETCH(Operation, operation);

    SyncEngine engine;
    QSignalSpy engineErrors(&engine, &SyncEngine::errorOccurred);
    engine.setDatabasePath(path());
    QVERIFY(engine.open());
    SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
    todos.setStrategy(strategy());
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy errors(&todos, &SyncCollection::errorOccurred);
    QVERIFY(todos.insert(todo(QStringLiteral("a"), QStringLiteral("Milk"))));
    QVERIFY(todos.insert(todo(QStringLiteral("b"), QStringLiteral("Bread"))));
    QVERIFY(todos.insert(todo(QStringLiteral("poison"), QStringLiteral("Eggs"))));

    Direct direct(path());
    QString sqlError;
    // A mutation is written to the mutations table, or with its transaction when it is the
    // only one (schema 6): either way, after the item.
    QVERIFY2(direct.exec(QStringLiteral(
                     "CREATE TRIGGER poison BEFORE INSERT ON mutations"
                     " WHEN NEW.key LIKE 'poison%'"
                     " BEGIN SELECT RAISE(ABORT, 'poisoned by the test'); END"),
                     &sqlError),
             qPrintable(sqlError));
    QVERIFY2(direct.exec(QStringLiteral(
                     "CREATE TRIGGER poison_one BEFORE INSERT ON transactions"
                     " WHEN NEW.m_key LIKE 'poison%'"
                     " BEGIN SELECT RAISE(ABORT, 'poisoned by the test'); END"),
                     &sqlError),
             qPrintable(sqlError));
    const QStringList stored = direct.snapshot();
    const auto shown = modelRows(todos);
    const int pending = engine.status()->pendingCount();
    const int pendingCount = todos.pendingCount();

    QSignalSpy inserted(&todos, &SyncCollection::rowsInserted);
    QSignalSpy removed(&todos, &SyncCollection::rowsRemoved);
    QSignalSpy changed(&todos, &SyncCollection::dataChanged);
    QSignalSpy reset(&todos, &SyncCollection::modelReset);

    QVERIFY(!operation(&todos));
    QCOMPARE(errors.count(), 1);
    QCOMPARE(errorAt(errors, 0).code(), SyncError::Storage);
    QVERIFY(!errorAt(errors, 0).message().isEmpty());
    QVERIFY(errorAt(errors, 0).detail().contains(QLatin1String("poisoned by the test")));
    QCOMPARE(engineErrors.count(), 1);
    QCOMPARE(errorAt(engineErrors, 0), errorAt(errors, 0));

    // Neither the items nor the outbox changed, and the model shows what it showed.
    QCOMPARE(direct.snapshot(), stored);
    QCOMPARE(modelRows(todos), shown);
    QCOMPARE(inserted.count(), 0);
    QCOMPARE(removed.count(), 0);
    QCOMPARE(changed.count(), 0);
    QCOMPARE(reset.count(), 0);
    QCOMPARE(engine.transactions().size(), 3);
    QCOMPARE(engine.status()->pendingCount(), pending);
    QCOMPARE(todos.pendingCount(), pendingCount);

    // The failure left the engine's connection usable: without the trigger the same call
    // goes through, and the reloaded state equals the shown one.
    QVERIFY(direct.exec(QStringLiteral("DROP TRIGGER poison")));
    QVERIFY(direct.exec(QStringLiteral("DROP TRIGGER poison_one")));
    Transaction *t = operation(&todos);
    QVERIFY(t);
    QCOMPARE(engine.transactions().size(), 4);
    QVERIFY(direct.snapshot() != stored);
    verifyOutboxConsistent(direct, todos);
    const auto after = modelRows(todos);
    engine.close();
    QVERIFY(engine.open());
    QCOMPARE(modelRows(todos), after);
    QCOMPARE(engine.transactions().size(), 4);
}

void tst_SyncDatabase::refusesInvalidChanges_data()
{
    QTest::addColumn<Operation>("operation");

    // The collection holds a and b when each runs.
    QTest::newRow("inserting a number") << Operation([](SyncCollection *c) {
        return c->insert(QVariant(42));
    });
    QTest::newRow("inserting a string") << Operation([](SyncCollection *c) {
        return c->insert(QStringLiteral("{\"title\": \"Tea\"}"));
    });
    QTest::newRow("inserting a list") << Operation([](SyncCollection *c) {
        return c->insert(QVariantList { todo(QStringLiteral("d"), QStringLiteral("Tea")) });
    });
    QTest::newRow("inserting nothing") << Operation([](SyncCollection *c) {
        return c->insert(QVariant());
    });
    QTest::newRow("inserting a QPoint field") << Operation([](SyncCollection *c) {
        QVariantMap item = todo(QStringLiteral("d"), QStringLiteral("Tea"));
        item.insert(QStringLiteral("where"), QVariant::fromValue(QPoint(1, 2)));
        return c->insert(item);
    });
    QTest::newRow("inserting NaN") << Operation([](SyncCollection *c) {
        QVariantMap item = todo(QStringLiteral("d"), QStringLiteral("Tea"));
        item.insert(QStringLiteral("price"), std::numeric_limits<double>::quiet_NaN());
        return c->insert(item);
    });
    QTest::newRow("inserting infinity in a nested list") << Operation([](SyncCollection *c) {
        QVariantMap item = todo(QStringLiteral("d"), QStringLiteral("Tea"));
        item.insert(QStringLiteral("prices"),
                    QVariantList { 1.0, std::numeric_limits<double>::infinity() });
        return c->insert(item);
    });
    QTest::newRow("inserting a QObject pointer") << Operation([](SyncCollection *c) {
        QVariantMap item = todo(QStringLiteral("d"), QStringLiteral("Tea"));
        item.insert(QStringLiteral("owner"), QVariant::fromValue(static_cast<QObject *>(c)));
        return c->insert(item);
    });
    QTest::newRow("inserting a byte array") << Operation([](SyncCollection *c) {
        QVariantMap item = todo(QStringLiteral("d"), QStringLiteral("Tea"));
        item.insert(QStringLiteral("blob"), QByteArray("\x00\x01", 2));
        return c->insert(item);
    });
    QTest::newRow("inserting an existing key") << Operation([](SyncCollection *c) {
        return c->insert(todo(QStringLiteral("a"), QStringLiteral("Tea")));
    });
    QTest::newRow("inserting with a fractional key") << Operation([](SyncCollection *c) {
        QVariantMap item = todo(QStringLiteral("d"), QStringLiteral("Tea"));
        item.insert(QStringLiteral("id"), 1.5);
        return c->insert(item);
    });
    QTest::newRow("updating an unknown key") << Operation([](SyncCollection *c) {
        return c->update(QStringLiteral("zz"), QVariantMap { { QStringLiteral("done"), true } });
    });
    QTest::newRow("updating with a QPoint") << Operation([](SyncCollection *c) {
        return c->update(QStringLiteral("a"),
                         QVariantMap {
                                 { QStringLiteral("title"), QVariant::fromValue(QPoint()) } });
    });
    QTest::newRow("updating with NaN") << Operation([](SyncCollection *c) {
        return c->update(QStringLiteral("a"),
                         QVariantMap { { QStringLiteral("price"), std::nan("") } });
    });
    QTest::newRow("updating with a number for changes") << Operation([](SyncCollection *c) {
        return c->update(QStringLiteral("a"), QVariant(42));
    });
    QTest::newRow("updating with no changes") << Operation([](SyncCollection *c) {
        return c->update(QStringLiteral("a"), QVariantMap());
    });
    QTest::newRow("updating the key field") << Operation([](SyncCollection *c) {
        return c->update(QStringLiteral("a"),
                         QVariantMap { { QStringLiteral("id"), QStringLiteral("z") } });
    });
    QTest::newRow("removing an unknown key") << Operation([](SyncCollection *c) {
        return c->remove(QStringLiteral("zz"));
    });
    QTest::newRow("removing an empty key") << Operation([](SyncCollection *c) {
        return c->remove(QString());
    });
    QTest::newRow("removing a key that is a QObject") << Operation([](SyncCollection *c) {
        return c->remove(QVariant::fromValue(static_cast<QObject *>(c)));
    });
    QTest::newRow("removing a key twice in one transaction") << Operation([](SyncCollection *c) {
        return c->removeMany(QStringList { QStringLiteral("a"), QStringLiteral("a") });
    });
    QTest::newRow("insertMany of an object") << Operation([](SyncCollection *c) {
        return c->insertMany(todo(QStringLiteral("d"), QStringLiteral("Tea")));
    });
    QTest::newRow("insertMany with one NaN among good items") << Operation([](SyncCollection *c) {
        QVariantMap bad = todo(QStringLiteral("e"), QStringLiteral("Jam"));
        bad.insert(QStringLiteral("price"), std::nan(""));
        return c->insertMany(
                QVariantList { todo(QStringLiteral("d"), QStringLiteral("Tea")), bad });
    });
    QTest::newRow("insertMany with a number among good items") << Operation([](SyncCollection *c) {
        return c->insertMany(QVariantList { todo(QStringLiteral("d"), QStringLiteral("Tea")), 42 });
    });
    QTest::newRow("insertMany of nothing") << Operation([](SyncCollection *c) {
        return c->insertMany(QVariantList());
    });
    QTest::newRow("updateMany with an unknown key") << Operation([](SyncCollection *c) {
        return c->updateMany(QVariantList {
                QVariantMap { { QStringLiteral("key"), QStringLiteral("a") },
                              { QStringLiteral("changes"),
                                QVariantMap { { QStringLiteral("done"), true } } } },
                QVariantMap { { QStringLiteral("key"), QStringLiteral("zz") },
                              { QStringLiteral("changes"),
                                QVariantMap { { QStringLiteral("done"), true } } } } });
    });
    QTest::newRow("removeMany with an unknown key") << Operation([](SyncCollection *c) {
        return c->removeMany(QStringList { QStringLiteral("a"), QStringLiteral("zz") });
    });
}

void tst_SyncDatabase::refusesInvalidChanges()
{
    QFETCH(Operation, operation);

    SyncEngine engine;
    QSignalSpy engineErrors(&engine, &SyncEngine::errorOccurred);
    engine.setDatabasePath(path());
    QVERIFY(engine.open());
    SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
    todos.setStrategy(strategy());
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy errors(&todos, &SyncCollection::errorOccurred);
    QVERIFY(todos.insert(todo(QStringLiteral("a"), QStringLiteral("Milk"))));
    QVERIFY(todos.insert(todo(QStringLiteral("b"), QStringLiteral("Bread"))));

    Direct direct(path());
    const QStringList stored = direct.snapshot();
    const auto shown = modelRows(todos);
    QSignalSpy inserted(&todos, &SyncCollection::rowsInserted);
    QSignalSpy removed(&todos, &SyncCollection::rowsRemoved);
    QSignalSpy changed(&todos, &SyncCollection::dataChanged);

    QCOMPARE(operation(&todos), nullptr);
    QCOMPARE(errors.count(), 1);
    QCOMPARE(errorAt(errors, 0).code(), SyncError::Validation);
    QVERIFY(!errorAt(errors, 0).message().isEmpty());
    QCOMPARE(engineErrors.count(), 1);
    QCOMPARE(errorAt(engineErrors, 0).code(), SyncError::Validation);
    QCOMPARE(errorAt(engineErrors, 0).message(), errorAt(errors, 0).message());

    QCOMPARE(direct.snapshot(), stored);
    QCOMPARE(modelRows(todos), shown);
    QCOMPARE(inserted.count(), 0);
    QCOMPARE(removed.count(), 0);
    QCOMPARE(changed.count(), 0);
    QCOMPARE(engine.transactions().size(), 2);
}

// The reads behind windowed loading: a range of ords with a limit, the last ord, one key's ord.
void tst_SyncDatabase::loadsVisibleItemsByOrdRange()
{
    {
        SyncEngine engine;
        engine.setDatabasePath(path());
        QVERIFY(engine.open());
        SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
        SyncCollection notes(&engine, QStringLiteral("notes"), { QStringLiteral("text") });
        QVariantList items;
        for (int i = 0; i < 10; ++i)
            items << todo(QStringLiteral("k%1").arg(i), QStringLiteral("t%1").arg(i));
        QVERIFY(todos.insertMany(items));
        QVERIFY(notes.insert(QVariantMap { { QStringLiteral("text"), QStringLiteral("other") } }));
        QVERIFY(todos.remove(QStringLiteral("k3"))); // not visible: skipped, its ord stays taken
    }
    SyncDatabase db(path());
    QVERIFY(!db.open().isError());
    auto keysOf = [](const QList<SyncDatabase::StoredItem> &items) {
        QStringList keys;
        for (const SyncDatabase::StoredItem &item : items)
            keys << item.key;
        return keys;
    };
    QList<SyncDatabase::StoredItem> all;
    QVERIFY(!db.loadItems(QStringLiteral("todos"), QString(), &all).isError());
    QCOMPARE(keysOf(all), QStringList({ QStringLiteral("k0"), QStringLiteral("k1"), QStringLiteral("k2"),
                                        QStringLiteral("k4"), QStringLiteral("k5"), QStringLiteral("k6"),
                                        QStringLiteral("k7"), QStringLiteral("k8"), QStringLiteral("k9") }));
    QCOMPARE(all.at(4).data().value(QStringLiteral("title")).toString(), QStringLiteral("t5"));

    // A page: after the third row's ord, at most three rows (k3 is not visible).
    QList<SyncDatabase::StoredItem> page;
    QVERIFY(!db.loadItems(QStringLiteral("todos"), QString(), &page, all.at(2).ord,
                          std::numeric_limits<qint64>::max(), 3).isError());
    QCOMPARE(keysOf(page), QStringList({ QStringLiteral("k4"), QStringLiteral("k5"), QStringLiteral("k6") }));
    // Up to an ord, without a limit.
    QVERIFY(!db.loadItems(QStringLiteral("todos"), QString(), &page, all.at(5).ord, all.at(7).ord).isError());
    QCOMPARE(keysOf(page), QStringList({ QStringLiteral("k7"), QStringLiteral("k8") }));
    QVERIFY(!db.loadItems(QStringLiteral("todos"), QString(), &page, all.constLast().ord).isError());
    QVERIFY(page.isEmpty());

    qint64 last = -1;
    QVERIFY(!db.lastOrd(QStringLiteral("todos"), QString(), &last).isError());
    QCOMPARE(last, all.constLast().ord);
    QVERIFY(!db.lastOrd(QStringLiteral("nothing"), QString(), &last).isError());
    QCOMPARE(last, 0);
    QVERIFY(!db.lastOrd(QStringLiteral("todos"), QStringLiteral("{\"user\":\"b\"}"), &last).isError());
    QCOMPARE(last, 0);

    qint64 ord = -1;
    QVERIFY(!db.visibleOrd(QStringLiteral("todos"), QString(), QStringLiteral("k5"), &ord).isError());
    QCOMPARE(ord, all.at(4).ord);
    QVERIFY(!db.visibleOrd(QStringLiteral("todos"), QString(), QStringLiteral("k3"), &ord).isError());
    QCOMPARE(ord, 0); // removed
    QVERIFY(!db.visibleOrd(QStringLiteral("notes"), QString(), QStringLiteral("k5"), &ord).isError());
    QCOMPARE(ord, 0); // another collection
}

void tst_SyncDatabase::loadsTransactionsByScopeStateAndId()
{
    // Transactions in two scopes and three states, written straight through SyncDatabase.
    SyncDatabase db(path());
    QVERIFY(!db.open().isError());
    auto record = [](const QString &id, const QString &scope, TransactionState state) {
        TransactionRecord tx;
        tx.id = id;
        tx.scope = scope;
        tx.state = state;
        tx.strategy = StrategyKind(strategy());
        tx.createdAt = tx.updatedAt = QDateTime::currentDateTimeUtc();
        MutationRecord m;
        m.id = id + QStringLiteral("-m");
        m.transactionId = id;
        m.collection = QStringLiteral("todos");
        m.key = id + QStringLiteral("-key");
        m.type = MutationType::Insert;
        m.modified = m.changes = QJsonObject { { QStringLiteral("title"), id } };
        m.createdAt = m.updatedAt = tx.createdAt;
        tx.mutations.append(m);
        return tx;
    };
    const QString other = QStringLiteral("{\"user\":\"b\"}");
    const QList<TransactionRecord> all {
        record(QStringLiteral("done"), QString(), TransactionState::Completed),
        record(QStringLiteral("dead"), QString(), TransactionState::Failed),
        record(QStringLiteral("open"), QString(), TransactionState::Pending),
        record(QStringLiteral("elsewhere"), other, TransactionState::Pending),
    };
    qint64 lastOrd = 0;
    for (const TransactionRecord &tx : all) {
        QList<SyncDatabase::ItemWrite> writes { { QStringLiteral("todos"), tx.mutations.first().key,
                                                  0, tx.mutations.first().modified } };
        QVERIFY(!db.writeLocalTransaction(tx, &writes).isError());
        QVERIFY(writes.first().ord > lastOrd); // each new item takes the next place
        lastOrd = writes.first().ord;
    }

    auto ids = [](const QList<TransactionRecord> &records) {
        QStringList out;
        for (const TransactionRecord &r : records)
            out << r.id;
        return out;
    };
    QList<TransactionRecord> loaded;
    QVERIFY(!db.loadTransactions(QString(), false, &loaded).isError());
    QCOMPARE(ids(loaded), (QStringList { QStringLiteral("dead"), QStringLiteral("open") }));
    QVERIFY(!db.loadTransactions(QString(), true, &loaded).isError());
    QCOMPARE(ids(loaded), (QStringList { QStringLiteral("done"), QStringLiteral("dead"),
                                         QStringLiteral("open") }));
    QCOMPARE(loaded.at(1).mutations.size(), 1);
    QCOMPARE(loaded.at(1).mutations.first().changes.value(QStringLiteral("title")).toString(),
             QStringLiteral("dead"));
    QVERIFY(!db.loadTransactions(other, false, &loaded).isError());
    QCOMPARE(ids(loaded), QStringList { QStringLiteral("elsewhere") });

    // By id, whatever its scope or state; an unknown id is not found and no error.
    for (const TransactionRecord &expected : all) {
        TransactionRecord one;
        bool found = false;
        QVERIFY(!db.loadTransaction(expected.id, &one, &found).isError());
        QVERIFY2(found, qPrintable(expected.id));
        QCOMPARE(one.id, expected.id);
        QCOMPARE(one.scope, expected.scope.isNull() ? QStringLiteral("") : expected.scope);
        QCOMPARE(int(one.state), int(expected.state));
        QCOMPARE(one.mutations.size(), 1);
        QCOMPARE(one.mutations.first().key, expected.mutations.first().key);
    }
    TransactionRecord none;
    bool found = true;
    QVERIFY(!db.loadTransaction(QStringLiteral("missing"), &none, &found).isError());
    QVERIFY(!found);
    db.close();

    // The engine lists the active and failed ones of its scope, and finds a completed one
    // (not kept in memory) by id; another scope's transaction is not its to give.
    SyncEngine engine;
    engine.setDatabasePath(path());
    QVERIFY(engine.open());
    QStringList listed;
    for (Transaction *t : engine.transactions())
        listed << t->id();
    QCOMPARE(listed, (QStringList { QStringLiteral("dead"), QStringLiteral("open") }));
    QCOMPARE(engine.status()->pendingCount(), 1);
    QCOMPARE(engine.status()->failedCount(), 1);
    Transaction *done = engine.transaction(QStringLiteral("done"));
    QVERIFY(done);
    QCOMPARE(done->state(), Transaction::Completed);
    QCOMPARE(engine.transaction(QStringLiteral("done")), done);
    QCOMPARE(engine.transaction(QStringLiteral("elsewhere")), nullptr);
}

void tst_SyncDatabase::upgradesSchemaOneKeepingTheOutbox()
{
    // A file as Synq's first schema wrote it: one synced item with a pending update, one
    // local insert, both in the outbox.
    {
        QSqlDatabase v1 = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("v1"));
        v1.setDatabaseName(path());
        QVERIFY(v1.open());
        QSqlQuery q(v1);
        const char *const schema1[] = {
            "PRAGMA journal_mode = WAL",
            "CREATE TABLE items (ord INTEGER PRIMARY KEY, collection TEXT NOT NULL,"
            " scope TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 0,"
            " data TEXT, local_data TEXT, local_deleted INTEGER NOT NULL DEFAULT 0,"
            " deleted INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL DEFAULT 0,"
            " UNIQUE (collection, scope, key))",
            "CREATE INDEX items_order ON items (collection, scope, ord)",
            "CREATE TABLE transactions (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL"
            " UNIQUE, scope TEXT NOT NULL, strategy INTEGER NOT NULL, state INTEGER NOT NULL,"
            " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, current_attempt INTEGER"
            " NOT NULL DEFAULT 0, queued_behind TEXT, error_code INTEGER NOT NULL DEFAULT 0,"
            " error_message TEXT, error_detail TEXT, error_retryable INTEGER NOT NULL DEFAULT 0,"
            " error_http INTEGER NOT NULL DEFAULT 0, error_tx TEXT)",
            "CREATE INDEX transactions_scope_state ON transactions (scope, state)",
            "CREATE TABLE mutations (id TEXT PRIMARY KEY, tx_id TEXT NOT NULL REFERENCES"
            " transactions (id) ON DELETE CASCADE, seq INTEGER NOT NULL, collection TEXT NOT NULL,"
            " scope TEXT NOT NULL, key TEXT NOT NULL, type INTEGER NOT NULL, base_version INTEGER"
            " NOT NULL DEFAULT 0, original TEXT, modified TEXT, changes TEXT, metadata TEXT,"
            " state INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
            " updated_at INTEGER NOT NULL)",
            "CREATE INDEX mutations_tx ON mutations (tx_id, seq)",
            "CREATE INDEX mutations_item ON mutations (collection, scope, key)",
            "CREATE TABLE attempts (id TEXT PRIMARY KEY, tx_id TEXT NOT NULL REFERENCES"
            " transactions (id) ON DELETE CASCADE, started_at INTEGER NOT NULL, completed_at"
            " INTEGER, error_code INTEGER NOT NULL DEFAULT 0, error_message TEXT, error_detail"
            " TEXT, retry_at INTEGER)",
            "CREATE INDEX attempts_tx ON attempts (tx_id, started_at)",
            "CREATE TABLE cursors (collection TEXT NOT NULL, scope TEXT NOT NULL, cursor TEXT NOT"
            " NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (collection, scope)) WITHOUT ROWID",
            "CREATE TABLE id_map (collection TEXT NOT NULL, scope TEXT NOT NULL, client_key TEXT"
            " NOT NULL, server_key TEXT NOT NULL, created_at INTEGER NOT NULL,"
            " PRIMARY KEY (collection, scope, client_key)) WITHOUT ROWID",
            "CREATE TABLE tombstones (collection TEXT NOT NULL, scope TEXT NOT NULL, key TEXT NOT"
            " NULL, version INTEGER NOT NULL DEFAULT 0, deleted_at INTEGER NOT NULL, confirmed"
            " INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (collection, scope, key)) WITHOUT ROWID",
            "INSERT INTO items VALUES (1, 'todos', '', 'a', 7, '{\"id\":\"a\",\"title\":\"Milk\"}',"
            " '{\"id\":\"a\",\"title\":\"Oat milk\"}', 0, 0, 1)",
            "INSERT INTO items VALUES (2, 'todos', '', 'b', 0, NULL, '{\"id\":\"b\",\"title\":\"Tea\"}',"
            " 0, 0, 1)",
            "INSERT INTO transactions (id, scope, strategy, state, created_at, updated_at)"
            " VALUES ('t1', '', 0, 1, 1, 1), ('t2', '', 0, 1, 2, 2)",
            "INSERT INTO mutations VALUES ('m1', 't1', 0, 'todos', '', 'a', 1, 7,"
            " '{\"id\":\"a\",\"title\":\"Milk\"}', '{\"id\":\"a\",\"title\":\"Oat milk\"}',"
            " '{\"title\":\"Oat milk\"}', NULL, 0, 1, 1)",
            "INSERT INTO mutations VALUES ('m2', 't2', 0, 'todos', '', 'b', 0, 0, NULL,"
            " '{\"id\":\"b\",\"title\":\"Tea\"}', '{\"id\":\"b\",\"title\":\"Tea\"}', NULL, 0, 2, 2)",
            "INSERT INTO cursors VALUES ('todos', '', 'v1:7', 1)",
            "INSERT INTO attempts VALUES ('a1', 't1', 1, NULL, 0, NULL, NULL, NULL)",
            "PRAGMA application_id = 1400467057",
            "PRAGMA user_version = 1",
        };
        for (const char *sql : schema1)
            QVERIFY2(q.exec(QString::fromLatin1(sql)), qPrintable(q.lastError().text()));
        q = QSqlQuery();
        v1.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("v1"));

    {
        // Schema 4 rebuilds the transactions table with foreign keys off; they are on again
        // for the connection that did it.
        SyncDatabase db(path());
        QVERIFY(!db.open().isError());
        QSqlQuery q(db.connection());
        QVERIFY(q.exec(QStringLiteral("PRAGMA foreign_keys")) && q.next());
        QCOMPARE(q.value(0).toInt(), 1);
        q = QSqlQuery();
        db.close();
    }

    SyncEngine engine;
    engine.setDatabasePath(path());
    QVERIFY(engine.open());
    SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
    QAbstractItemModelTester tester(&todos, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(todos.rowCount(), 2);
    QCOMPARE(todos.get(0).value(QStringLiteral("title")).toString(), QStringLiteral("Oat milk"));
    QCOMPARE(todos.get(0).value(QStringLiteral("version")).toLongLong(), 7);
    QCOMPARE(todos.get(0).value(QStringLiteral("syncState")).toInt(), int(SyncCollection::Pending));
    QCOMPARE(todos.get(1).value(QStringLiteral("title")).toString(), QStringLiteral("Tea"));
    QStringList ids;
    for (Transaction *t : engine.transactions())
        ids << t->id();
    QCOMPARE(ids, (QStringList { QStringLiteral("t1"), QStringLiteral("t2") }));

    Direct direct(path());
    QCOMPARE(direct.value(QStringLiteral("PRAGMA user_version")).toInt(), SyncDatabase::SchemaVersion);
    QCOMPARE(direct.tables(), synqTables);
    QCOMPARE(direct.value(QStringLiteral("SELECT cursor || '@' || max_version FROM cursors")).toString(),
             QStringLiteral("v1:7@0"));
    QCOMPARE(direct.value(QStringLiteral("SELECT count(*) FROM outbox_mutations")).toInt(), 2);
    // The rebuilt table kept its rows, their order and what refers to them.
    QCOMPARE(direct.value(QStringLiteral("SELECT group_concat(id) FROM (SELECT id FROM transactions ORDER BY seq)"))
                     .toString(),
             QStringLiteral("t1,t2"));
    QCOMPARE(direct.value(QStringLiteral("SELECT count(*) FROM attempts WHERE tx_id = 't1'")).toInt(), 1);
    QVERIFY(!direct.value(QStringLiteral("SELECT sql FROM sqlite_master WHERE name = 'transactions'"))
                     .toString()
                     .contains(QLatin1String("AUTOINCREMENT")));
    // Schema 5: no (scope, state) index; the active transactions are found from the mark,
    // here the first one; attempts kept their transaction in their one B-tree.
    QCOMPARE(direct.value(QStringLiteral("SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                         " AND tbl_name IN ('transactions', 'attempts')"
                                         " AND name NOT LIKE 'sqlite_autoindex_transactions%'"))
                     .toInt(),
             0);
    QCOMPARE(direct.value(QStringLiteral("SELECT value FROM meta WHERE name = 'active_from'")).toLongLong(),
             direct.value(QStringLiteral("SELECT seq FROM transactions WHERE id = 't1'")).toLongLong());
    QVERIFY(direct.value(QStringLiteral("SELECT sql FROM sqlite_master WHERE name = 'attempts'"))
                    .toString()
                    .contains(QLatin1String("WITHOUT ROWID")));
    QCOMPARE(engine.transactions().first()->attempts().size(), 1);
    // Schema 6: the one mutation of each transaction written before it moved into the
    // transaction's row, as it was; the view shows them as before.
    QCOMPARE(direct.value(QStringLiteral("SELECT count(*) FROM mutations")).toInt(), 0);
    QCOMPARE(direct.rows(QStringLiteral("SELECT * FROM outbox_mutations ORDER BY id")),
             (QStringList {
                     QStringLiteral("m1 | t1 | 0 | todos |  | a | 1 | 7 | {\"id\":\"a\",\"title\":\"Milk\"}"
                                    " | {\"id\":\"a\",\"title\":\"Oat milk\"} | {\"title\":\"Oat milk\"}"
                                    " | NULL | 0 | 1 | 1"),
                     QStringLiteral("m2 | t2 | 0 | todos |  | b | 0 | 0 | NULL"
                                    " | {\"id\":\"b\",\"title\":\"Tea\"} | {\"id\":\"b\",\"title\":\"Tea\"}"
                                    " | NULL | 0 | 2 | 2") }));
    QCOMPARE(engine.transactions().first()->mutationCount(), 1);
    QCOMPARE(engine.transactions().first()->mutations().constFirst().toMap().value(QStringLiteral("changes")),
             QVariant(QVariantMap { { QStringLiteral("title"), QStringLiteral("Oat milk") } }));
}

void tst_SyncDatabase::eachMutationKeepsTheStateItMade()
{
    // An item's text is written once and serves the mutation that made its visible state (the
    // last one on it); every earlier mutation on the same item keeps its own state.
    QStringList stored;
    QStringList restored;
    {
        SyncEngine engine;
        engine.setDatabasePath(path());
        QVERIFY(engine.open());
        SyncCollection todos(&engine, QStringLiteral("todos"), todoFields);
        todos.setStrategy(strategy());
        Transaction *t = engine.begin();
        QVERIFY(t);
        const QString todosName = QStringLiteral("todos");
        auto title = [](const char *value) {
            return QVariantMap { { QStringLiteral("title"), QString::fromLatin1(value) } };
        };
        QVariantMap k = title("A");
        k.insert(QStringLiteral("id"), QStringLiteral("k"));
        QVariantMap j = title("J");
        j.insert(QStringLiteral("id"), QStringLiteral("j"));
        QCOMPARE(t->insert(todosName, k), QStringLiteral("k"));
        QVERIFY(t->update(todosName, QStringLiteral("k"), title("B")));
        QCOMPARE(t->insert(todosName, j), QStringLiteral("j"));
        QVERIFY(t->update(todosName, QStringLiteral("k"), title("C")));
        QVERIFY(t->commit());
        QCOMPARE(todos.getByKey(QStringLiteral("k")).value(QStringLiteral("title")).toString(),
                 QStringLiteral("C"));
    }
    {
        Direct direct(path());
        QSqlQuery q(direct.db());
        QVERIFY(q.exec(QStringLiteral("SELECT json_extract(modified, '$.title') FROM outbox_mutations"
                                      " ORDER BY seq")));
        while (q.next())
            stored << q.value(0).toString();
    }
    QCOMPARE(stored, (QStringList { QStringLiteral("A"), QStringLiteral("B"), QStringLiteral("J"),
                                    QStringLiteral("C") }));

    // JSON goes to SQLite as UTF-8 bytes and is stored as TEXT, also from a server's answer;
    // text outside ASCII comes back as it went in.
    {
        SyncDatabase db(path());
        QVERIFY(!db.open().isError());
        const QJsonObject accented { { QStringLiteral("id"), QStringLiteral("k") },
                                     { QStringLiteral("title"), QStringLiteral("Crème brûlée ✓") } };
        QList<SyncDatabase::SyncedWrite> synced(1);
        synced[0].collection = QStringLiteral("todos");
        synced[0].key = QStringLiteral("k");
        synced[0].version = 3;
        synced[0].synced = accented;
        synced[0].setLocal = true;
        synced[0].local = std::optional<QJsonObject>(accented);
        QVERIFY(!db.writeSynced(QString(), {}, &synced, nullptr).isError());
        db.close();
    }
    {
        Direct direct(path());
        QCOMPARE(direct.value(QStringLiteral(
                         "SELECT count(*) FROM outbox_mutations WHERE typeof(modified) <> 'text'"
                         " OR (original IS NOT NULL AND typeof(original) <> 'text')"
                         " OR (changes IS NOT NULL AND typeof(changes) <> 'text')"))
                         .toInt(),
                 0);
        QCOMPARE(direct.value(QStringLiteral("SELECT group_concat(key || ':' || typeof(local_data))"
                                             " FROM items WHERE key <> 'k'"))
                         .toString(),
                 QStringLiteral("j:text"));
        QCOMPARE(direct.value(QStringLiteral("SELECT typeof(data) || typeof(local_data) FROM items"
                                             " WHERE key = 'k'"))
                         .toString(),
                 QStringLiteral("texttext"));
        QCOMPARE(direct.value(QStringLiteral("SELECT json_extract(data, '$.title') || '|'"
                                             " || json_extract(local_data, '$.title') FROM items"
                                             " WHERE key = 'k'"))
                         .toString(),
                 QStringLiteral("Crème brûlée ✓|Crème brûlée ✓"));
    }

    SyncEngine engine;
    engine.setDatabasePath(path());
    QVERIFY(engine.open());
    QCOMPARE(engine.transactions().size(), 1);
    for (const QVariant &m : engine.transactions().first()->mutations())
        restored << m.toMap().value(QStringLiteral("modified")).toMap().value(QStringLiteral("title")).toString();
    QCOMPARE(restored, stored);
}

void tst_SyncDatabase::oneMutationIsHeldInItsTransactionRow()
{
    // Schema 6: a transaction of one mutation holds it in its own row; one of several keeps
    // them in the mutations table. Both are read, settled and compacted alike.
    SyncDatabase db(path());
    QVERIFY(!db.open().isError());
    auto record = [](const QString &id, int mutations) {
        TransactionRecord tx;
        tx.id = id;
        tx.state = TransactionState::Pending;
        tx.strategy = StrategyKind(strategy());
        tx.createdAt = tx.updatedAt = QDateTime::currentDateTimeUtc();
        for (int i = 0; i < mutations; ++i) {
            MutationRecord m;
            m.id = QStringLiteral("%1-m%2").arg(id).arg(i);
            m.transactionId = id;
            m.sequence = i;
            m.collection = QStringLiteral("todos");
            m.key = QStringLiteral("%1-k%2").arg(id).arg(i);
            m.type = MutationType::Insert;
            m.modified = m.changes = QJsonObject { { QStringLiteral("title"), m.key } };
            m.metadata = QStringLiteral("note");
            m.createdAt = m.updatedAt = tx.createdAt;
            tx.mutations.append(m);
        }
        return tx;
    };
    const TransactionRecord one = record(QStringLiteral("one"), 1);
    const TransactionRecord two = record(QStringLiteral("two"), 2);
    for (const TransactionRecord &tx : { one, two }) {
        QList<SyncDatabase::ItemWrite> writes;
        for (const MutationRecord &m : tx.mutations)
            writes.append({ m.collection, m.key, 0, m.modified });
        QVERIFY(!db.writeLocalTransaction(tx, &writes).isError());
    }
    auto scalar = [&](const QString &sql) {
        QSqlQuery q(db.connection());
        return q.exec(sql) && q.next() ? q.value(0) : QVariant();
    };
    QCOMPARE(scalar(QStringLiteral("SELECT group_concat(tx_id) FROM mutations")).toString(),
             QStringLiteral("two,two"));
    QCOMPARE(scalar(QStringLiteral("SELECT group_concat(id) FROM transactions WHERE m_id IS NOT NULL"))
                     .toString(),
             QStringLiteral("one"));
    QCOMPARE(scalar(QStringLiteral("SELECT count(*) FROM outbox_mutations")).toInt(), 3);

    auto load = [&](const QString &id) {
        TransactionRecord out;
        bool found = false;
        if (db.loadTransaction(id, &out, &found).isError() || !found)
            return TransactionRecord();
        return out;
    };
    for (const TransactionRecord &tx : { one, two }) {
        const TransactionRecord loaded = load(tx.id);
        QCOMPARE(loaded.mutations.size(), tx.mutations.size());
        for (qsizetype i = 0; i < tx.mutations.size(); ++i) {
            const MutationRecord &a = loaded.mutations.at(i);
            const MutationRecord &b = tx.mutations.at(i);
            QCOMPARE(a.id, b.id);
            QCOMPARE(a.transactionId, tx.id);
            QCOMPARE(a.sequence, b.sequence);
            QCOMPARE(a.key, b.key);
            QCOMPARE(int(a.type), int(b.type));
            QCOMPARE(a.modified, b.modified);
            QCOMPARE(a.changes, b.changes);
            QCOMPARE(a.metadata, b.metadata);
            QCOMPARE(int(a.state), int(MutationState::Created));
        }
    }

    // Settled: the mutations' state and base version follow, wherever they are held.
    QList<SyncDatabase::TransactionWrite> settled;
    for (TransactionRecord tx : { one, two }) {
        tx.state = TransactionState::Persisting;
        for (MutationRecord &m : tx.mutations) {
            m.state = MutationState::Persisting;
            m.baseVersion = 7;
        }
        settled.append({ tx, {}, false });
    }
    QList<SyncDatabase::SyncedWrite> none;
    QVERIFY(!db.writeSynced(QString(), settled, &none, nullptr).isError());
    for (const QString &id : { QStringLiteral("one"), QStringLiteral("two") }) {
        const TransactionRecord loaded = load(id);
        QCOMPARE(int(loaded.state), int(TransactionState::Persisting));
        for (const MutationRecord &m : loaded.mutations) {
            QCOMPARE(int(m.state), int(MutationState::Persisting));
            QCOMPARE(m.baseVersion, 7);
        }
    }

    // Compacted: the merged change is stored where the mutation is.
    Compaction::Plan plan;
    for (const TransactionRecord &tx : { one, two }) {
        MutationRecord merged = load(tx.id).mutations.constLast();
        merged.type = MutationType::Update;
        merged.original = merged.modified;
        merged.changes = QJsonObject { { QStringLiteral("title"), QStringLiteral("merged") } };
        merged.modified = merged.changes;
        plan.merges.append({ tx.id, merged, {} });
    }
    QVERIFY(!db.writeCompaction(plan).isError());
    for (const QString &id : { QStringLiteral("one"), QStringLiteral("two") }) {
        const TransactionRecord loaded = load(id);
        QCOMPARE(int(loaded.mutations.constLast().type), int(MutationType::Update));
        QCOMPARE(loaded.mutations.constLast().changes.value(QStringLiteral("title")).toString(),
                 QStringLiteral("merged"));
        if (loaded.mutations.size() == 2)
            QCOMPARE(int(loaded.mutations.constFirst().type), int(MutationType::Insert));
    }
}

void tst_SyncDatabase::activeTransactionsAreReadFromTheMark()
{
    // Active transactions are read from the active_from mark on. Settling moves the mark past
    // completed ones; deleting the newest ones brings it back to where the next new transaction
    // lands, or that transaction would be lost to the next start.
    SyncDatabase db(path());
    QVERIFY(!db.open().isError());
    auto record = [](int n) {
        TransactionRecord tx;
        tx.id = QStringLiteral("t%1").arg(n);
        tx.state = TransactionState::Pending;
        tx.strategy = StrategyKind(strategy());
        tx.createdAt = tx.updatedAt = QDateTime::currentDateTimeUtc();
        MutationRecord m;
        m.id = tx.id + QStringLiteral("-m");
        m.transactionId = tx.id;
        m.collection = QStringLiteral("todos");
        m.key = tx.id + QStringLiteral("-key");
        m.type = MutationType::Insert;
        m.modified = m.changes = QJsonObject { { QStringLiteral("title"), tx.id } };
        m.createdAt = m.updatedAt = tx.createdAt;
        tx.mutations.append(m);
        return tx;
    };
    QHash<QString, TransactionRecord> written;
    auto write = [&](int n) {
        const TransactionRecord tx = record(n);
        QList<SyncDatabase::ItemWrite> writes { { QStringLiteral("todos"), tx.mutations.first().key,
                                                  0, tx.mutations.first().modified } };
        written.insert(tx.id, tx);
        return !db.writeLocalTransaction(tx, &writes).isError();
    };
    auto complete = [&](const QStringList &ids) {
        QList<SyncDatabase::TransactionWrite> writes;
        for (const QString &id : ids) {
            TransactionRecord tx = written.value(id);
            tx.state = TransactionState::Completed;
            writes.append({ tx, {}, false });
        }
        QList<SyncDatabase::SyncedWrite> none;
        return !db.writeSynced(QString(), writes, &none, nullptr).isError();
    };
    auto active = [&] {
        QList<TransactionRecord> loaded;
        QStringList ids;
        if (db.loadTransactions(QString(), false, &loaded).isError())
            return QStringList { QStringLiteral("error") };
        for (const TransactionRecord &r : loaded)
            ids << r.id;
        return ids;
    };
    auto mark = [&] {
        QSqlQuery q(db.connection());
        return q.exec(QStringLiteral("SELECT value FROM meta WHERE name = 'active_from'")) && q.next()
                ? q.value(0).toLongLong()
                : -1;
    };
    QCOMPARE(mark(), 1); // a new file: from the first transaction it will hold

    for (int n = 1; n <= 5; ++n)
        QVERIFY(write(n));
    QCOMPARE(mark(), 1);
    QVERIFY(complete({ QStringLiteral("t1"), QStringLiteral("t2"), QStringLiteral("t4") }));
    QCOMPARE(mark(), 3); // t3 is the first not completed; t4 after it stays in range
    QCOMPARE(active(), (QStringList { QStringLiteral("t3"), QStringLiteral("t5") }));
    QVERIFY(complete({ QStringLiteral("t3"), QStringLiteral("t5") }));
    QCOMPARE(mark(), 6); // past the last
    QCOMPARE(active(), QStringList());
    // Every transaction is still there, completed ones included.
    QList<TransactionRecord> all;
    QVERIFY(!db.loadTransactions(QString(), true, &all).isError());
    QCOMPARE(all.size(), 5);

    // The two newest go: the next one takes seq 4, and must still be read.
    QVERIFY(!db.deleteTransactions({ QStringLiteral("t5"), QStringLiteral("t4") }).isError());
    QCOMPARE(mark(), 4);
    QVERIFY(write(6));
    QCOMPARE(active(), QStringList { QStringLiteral("t6") });

    // Clearing a scope: the same.
    QVERIFY(!db.clearScope(QString()).isError());
    QCOMPARE(mark(), 1);
    QVERIFY(write(7));
    QCOMPARE(active(), QStringList { QStringLiteral("t7") });
    db.close();

    // And across a restart: the engine shows the one active transaction.
    SyncEngine engine;
    engine.setDatabasePath(path());
    QVERIFY(engine.open());
    QCOMPARE(engine.transactions().size(), 1);
    QCOMPARE(engine.transactions().first()->id(), QStringLiteral("t7"));
}

QTEST_GUILESS_MAIN(tst_SyncDatabase)
#include "tst_syncdatabase.moc"
