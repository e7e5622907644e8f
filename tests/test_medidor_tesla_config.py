"""Tesla Analyzer's config.xml and lector.ini: the sample parses; mistakes name their line."""
from __future__ import annotations

from pathlib import Path

import pytest

from medidor import cli
from medidor.tesla_config import (LectorIni, TeslaConfigError, agent_configs, load, parse_config_xml,
                                  parse_lector_ini)

EXAMPLES = Path(__file__).resolve().parent.parent / "medidor" / "examples"


def sample() -> str:
    return (EXAMPLES / "config.xml").read_text()


def test_sample_config_parses_devices_analyzers_codes_and_times() -> None:
    config = parse_config_xml(sample().encode())
    assert (config.node_id, config.node_name) == ("4", "CIFP Joan Taix")
    assert [d.id for d in config.devices] == ["1", "2"]
    pm710, cvmk = config.analyzers
    assert (pm710.modelo, pm710.fonte, pm710.id) == ("pm710", "modbus", 1)
    assert pm710.codigos == ("TPF", "IPF", "FRE", "PAT", "FPT", "CEA")
    assert (pm710.tempslectura_s, pm710.tempsgravacio_min) == (60, 15)
    assert pm710.device.baud == 19200 and pm710.device.porta == "/dev/ttyUSB0"
    assert (cvmk.modelo, cvmk.fonte) == ("cvmk", "cirbus")
    # Device 2 is disabled, so only the PM710 runs.
    assert [a.id for a in config.enabled] == [1]


def test_one_agent_per_enabled_analyzer(tmp_path: Path) -> None:
    config = parse_config_xml(sample().encode())
    agents = agent_configs(config, servidor="http://servidor:5000", estado=tmp_path, chave_registro="k",
                           fuso="America/Sao_Paulo", limite_alerta_kwh=500.0, multiplicador=1.0)
    assert len(agents) == 1
    agent = agents[0]
    assert agent.medidor == "tesla-4-1" and agent.estado == tmp_path / "tesla-4-1"
    assert agent.fonte == "modbus" and agent.dispositivo.endereco == 1 and agent.dispositivo.modelo == "pm710"
    assert agent.intervalo_s == 60 and agent.gravacao_min == 15
    assert agent.codigos == ("TPF", "IPF", "FRE", "PAT", "FPT", "CEA")


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("old, new, needle, message", [
    ("<tempsgravacio>15</tempsgravacio>", "<tempsgravacio>7</tempsgravacio>", "<tempsgravacio>7",
     "tempsgravacio 7 não divide 60"),
    ('model="PM710"', 'model="PM999"', 'model="PM999"', "modelo 'PM999' desconhecido"),
    ("<consulta>FRE</consulta>", "<consulta>XYZ</consulta>", "<consulta>XYZ", "consulta 'XYZ' desconhecida"),
    ('<analitzador id="1" device="1"', '<analitzador id="1" device="9"', 'device="9"', "device=9 não está"),
    ('<device id="1" type="serial" enabled="true">', '<device type="serial" enabled="true">',
     '<device type="serial" enabled="true">', "sem o atributo id"),
    ("<baud>19200</baud>", "<baud>rapido</baud>", "<baud>rapido", "<baud> deve ser um número"),
    ("<tempslectura>60</tempslectura>", "<tempslectura>6000</tempslectura>", "<tempslectura>6000", "fora do intervalo"),
    ('enabled="true">\n         <port>/dev/ttyUSB0', 'enabled="talvez">\n         <port>/dev/ttyUSB0',
     'enabled="talvez"', "deve ser true ou false"),
])
def test_invalid_config_reports_its_line(old: str, new: str, needle: str, message: str) -> None:
    text = sample().replace(old, new, 1)
    assert text != sample()
    with pytest.raises(TeslaConfigError) as err:
        parse_config_xml(text.encode())
    assert str(err.value).startswith(f"config.xml, linha {line_of(text, needle)}: ")
    assert message in str(err.value)


def test_broken_xml_reports_its_line() -> None:
    text = sample().replace("</params>", "</parametros>", 1)
    with pytest.raises(TeslaConfigError, match=r"config.xml, linha \d+: XML inválido"):
        parse_config_xml(text.encode())


def test_lector_ini_sets_level_and_log_dir_beside_it(tmp_path: Path) -> None:
    (tmp_path / "config.xml").write_text(sample())
    (tmp_path / "lector.ini").write_text((EXAMPLES / "lector.ini").read_text())
    _, lector = load(tmp_path / "config.xml")
    assert lector == LectorIni("DEBUG", tmp_path / "log", True)


@pytest.mark.parametrize("text, line, message", [
    ("[General]\nlog_level=verbose\n", 2, "log_level 'verbose' desconhecido"),
    ("[General]\nlog_level=info\nisto não é nada\n", 3, "não é 'chave=valor'"),
    ("log_level=info\n", 1, ""),
    ("[Outra]\nx=1\n", 1, "falta a seção [General]"),
])
def test_invalid_lector_ini_reports_its_line(text: str, line: int, message: str) -> None:
    with pytest.raises(TeslaConfigError) as err:
        parse_lector_ini(text)
    assert str(err.value).startswith(f"lector.ini, linha {line}: ")
    assert message in str(err.value)


def test_cli_reports_an_invalid_config_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.xml"
    path.write_text(sample().replace("<tempsgravacio>15<", "<tempsgravacio>7<"))
    code = cli.main(["--config", str(path), "--estado", str(tmp_path / "e")])
    assert code == cli.EXIT_USAGE
    assert "config.xml, linha" in capsys.readouterr().err


# Tesla Analyzer's own sample, as its documentation gives it: it ends without </configuracio>.
SEED_SAMPLE = """<?xml version='1.0' encoding='UTF-8'?>
<configuracio>
  <node id="4" name="CIFP Joan Taix" location="Sa Pobla (Son Basca)" />
  <devices>
      <device id="1" type="serial" enabled="true">
         <port>COM1:</port><baud>19200</baud><bits>8</bits><timeout>1</timeout><parity>N</parity>
      </device>
  </devices>
  <equips>
    <analitzador id="1" device="1" model="PM710" driver="modBusComm" dataDriver="pmData">
        <params><fabricant>Schneider</fabricant><model>PM710</model>
                <tempsgravacio>15</tempsgravacio><tempslectura>60</tempslectura></params>
        <dataexports>
            <dataexport type="localFile" target="dades" />
            <!-- <dataexport type="clientRest" target="http://tesla.botilla.net/central/ws" /> -->
        </dataexports>
        <peticions><consulta>TPF</consulta><consulta>CEA</consulta></peticions>
   </analitzador>
   </equips>
"""


def test_the_seed_sample_is_refused_with_its_line_and_a_hint_and_works_once_closed(tmp_path: Path) -> None:
    with pytest.raises(TeslaConfigError) as refused:
        parse_config_xml(SEED_SAMPLE.encode())
    assert str(refused.value) == ("config.xml, linha 20: XML inválido: o arquivo termina antes do fim do XML "
                                  "(coluna 1); falta fechar <configuracio>, aberto na linha 2")
    config = parse_config_xml((SEED_SAMPLE + "</configuracio>\n").encode())
    [agent] = agent_configs(config, servidor="http://127.0.0.1:5000", estado=tmp_path, chave_registro=None,
                            fuso="America/Sao_Paulo", limite_alerta_kwh=500.0, multiplicador=1.0, base=tmp_path)
    assert agent.local == "Sa Pobla (Son Basca)" and agent.nome.startswith("CIFP Joan Taix")
    assert [e.tipo for e in agent.exportacoes] == ["localFile"]  # the commented clientRest is a comment
