// SPDX-License-Identifier: BSD-3-Clause
// todo-quick: two replicas of one to-do list side by side, syncing through synq-server.
//
//   todo-quick --server http://127.0.0.1:8080 [--data DIR] [--scripted]
//
// With a display it shows both replicas, each with an online/offline switch and every row's
// sync state. Without one (or with --scripted) it plays a scripted scenario — offline edits on
// both sides, reconnecting, converging — and prints what happened.

#include "scenario.h"

#include <QtCore/QCommandLineParser>
#include <QtCore/QDir>
#include <QtCore/QStandardPaths>
#include <QtGui/QGuiApplication>
#include <QtQml/QQmlApplicationEngine>

int main(int argc, char **argv)
{
    QGuiApplication app(argc, argv);
    app.setApplicationName(QStringLiteral("todo-quick"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Two Synq replicas converging through synq-server."));
    parser.addHelpOption();
    QCommandLineOption serverOption(QStringLiteral("server"), QStringLiteral("synq-server URL."),
                                    QStringLiteral("url"), QStringLiteral("http://127.0.0.1:8080"));
    QCommandLineOption dataOption(QStringLiteral("data"), QStringLiteral("Folder for the replicas' databases."),
                                  QStringLiteral("dir"));
    QCommandLineOption scriptedOption(QStringLiteral("scripted"),
                                      QStringLiteral("Play the scripted scenario and print it (the default without a display)."));
    QCommandLineOption uiCheckOption(QStringLiteral("check-ui"),
                                     QStringLiteral("Load the window (also without a display), then quit: 0 if it loaded."));
    parser.addOptions({ serverOption, dataOption, scriptedOption, uiCheckOption });
    parser.process(app);

    const QString dataDir = parser.isSet(dataOption)
            ? parser.value(dataOption)
            : QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    QDir().mkpath(dataDir);
    const QUrl server(parser.value(serverOption));

    const bool headless = QGuiApplication::platformName() == QLatin1String("offscreen")
            || QGuiApplication::platformName() == QLatin1String("minimal");
    if (parser.isSet(scriptedOption) || (headless && !parser.isSet(uiCheckOption))) {
        Scenario scenario(server, dataDir);
        QObject::connect(&scenario, &Scenario::finished, &app, &QCoreApplication::exit);
        QMetaObject::invokeMethod(&scenario, &Scenario::run, Qt::QueuedConnection);
        return app.exec();
    }

    QQmlApplicationEngine engine;
#ifdef SYNQ_QML_IMPORT_DIR
    engine.addImportPath(QStringLiteral(SYNQ_QML_IMPORT_DIR));
#endif
    engine.setInitialProperties({ { QStringLiteral("serverUrl"), server },
                                  { QStringLiteral("dataDir"), dataDir } });
    QObject::connect(&engine, &QQmlApplicationEngine::objectCreationFailed, &app,
                     [] { QCoreApplication::exit(1); }, Qt::QueuedConnection);
    engine.load(QUrl(QStringLiteral("qrc:/TodoQuick/Main.qml"))); // loadFromModule() is Qt 6.5+
    if (parser.isSet(uiCheckOption))
        return engine.rootObjects().size() == 1 ? 0 : 1;
    return app.exec();
}
